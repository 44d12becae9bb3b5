from django.db import migrations, models

from tests.migrations_scenarios.locks import report_timeouts


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        migrations.RunPython(report_timeouts, report_timeouts),
    ]
