from django.db import migrations

from tests.quorum_steps import record


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_first_step")]

    operations = [
        migrations.RunPython(record("0003_second_step"), migrations.RunPython.noop)
    ]
