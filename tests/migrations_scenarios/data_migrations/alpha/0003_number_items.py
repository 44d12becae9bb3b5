from django.db import migrations

from tests.migrations_scenarios.data_migrations import number_items, unnumber_items


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_seed_items")]

    operations = [migrations.RunPython(number_items, unnumber_items)]
