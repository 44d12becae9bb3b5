from django.db import migrations

from tests.migrations_scenarios.data_migrations import label_items, unlabel_items


class Migration(migrations.Migration):
    # Its statements run outside a transaction, each in one of its own.
    atomic = False

    dependencies = [("alpha", "0003_number_items")]

    operations = [migrations.RunPython(label_items, unlabel_items)]
