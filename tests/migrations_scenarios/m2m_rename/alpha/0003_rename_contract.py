from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_rename_expand")]

    operations = [
        syzygy.operations.ContractRenameField(
            model_name="book", old_name="tags", new_name="labels"
        ),
    ]
