from django.db import migrations

from tests.migrations_scenarios.data_migrations import seed_items, unseed_items


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RunPython(seed_items, unseed_items)]
