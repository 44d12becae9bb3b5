from django.db import migrations

from tests.migrations_scenarios import threads


def wait_for_the_other_runs(apps, schema_editor):
    if threads.rendezvous is not None:
        threads.rendezvous.wait()


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.RunPython(wait_for_the_other_runs, migrations.RunPython.noop)
    ]
