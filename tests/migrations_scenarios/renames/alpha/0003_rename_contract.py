from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_rename_expand")]

    operations = [
        syzygy.operations.ContractRenameField(
            model_name="book", old_name="title", new_name="headline"
        ),
        syzygy.operations.ContractRenameField(
            model_name="book", old_name="pages", new_name="page_count"
        ),
        syzygy.operations.ContractRenameField(
            model_name="book", old_name="code", new_name="isbn"
        ),
        syzygy.operations.ContractRenameField(
            model_name="book", old_name="publisher", new_name="imprint"
        ),
    ]
