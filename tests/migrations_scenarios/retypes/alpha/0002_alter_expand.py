from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.ExpandAlterField(
            model_name="book",
            name="rating",
            field=models.BigIntegerField(db_index=True),
        ),
        syzygy.operations.ExpandAlterField(
            model_name="book",
            name="copies",
            field=models.PositiveIntegerField(db_default=1),
        ),
        syzygy.operations.ExpandAlterField(
            model_name="book",
            name="score",
            field=models.IntegerField(null=True, unique=True),
        ),
    ]
