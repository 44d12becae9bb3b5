from django.db import migrations

from tests.migrations_scenarios.locks import report_timeouts


class Migration(migrations.Migration):
    # Its statements run outside a transaction: each gets one of its own.
    atomic = False

    dependencies = [("alpha", "0002_author_rating")]

    operations = [migrations.RunPython(report_timeouts, report_timeouts)]
