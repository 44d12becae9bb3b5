from django.db import migrations

from tests.quorum_steps import record


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.RunPython(record("0002_first_step"), migrations.RunPython.noop)
    ]
