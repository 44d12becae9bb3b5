from django.db import migrations


def crash(apps, schema_editor):
    raise RuntimeError("Test crash")


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [migrations.RunPython(crash, migrations.RunPython.noop)]
