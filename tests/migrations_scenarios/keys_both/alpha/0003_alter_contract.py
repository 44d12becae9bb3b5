from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_alter_expand")]

    operations = [
        syzygy.operations.ContractAlterField(
            model_name="author",
            name="id",
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
    ]
