from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.ExpandAlterField(
            model_name="book",
            name="code",
            field=models.IntegerField(null=True),
            conversion="NULLIF(trim({column}), '')::integer",
            reverse_conversion="{column}::text",
        ),
    ]
