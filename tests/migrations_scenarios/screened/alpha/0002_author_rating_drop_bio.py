from django.db import migrations, models

from tests.migrations_scenarios.screened import DropField


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        DropField(model_name="author", name="bio"),
    ]
