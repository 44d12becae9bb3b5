from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_alter_expand")]

    operations = [
        syzygy.operations.ContractAlterField(
            model_name="book",
            name="rating",
            field=models.BigIntegerField(db_index=True),
        ),
        syzygy.operations.ContractAlterField(
            model_name="book",
            name="copies",
            field=models.PositiveIntegerField(db_default=1),
        ),
        syzygy.operations.ContractAlterField(
            model_name="book",
            name="score",
            field=models.IntegerField(null=True, unique=True),
        ),
    ]
