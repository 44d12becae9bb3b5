from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.ExpandRenameField(
            model_name="book", old_name="title", new_name="headline"
        ),
        syzygy.operations.ExpandRenameField(
            model_name="book", old_name="pages", new_name="page_count"
        ),
        syzygy.operations.ExpandRenameField(
            model_name="book", old_name="code", new_name="isbn"
        ),
        syzygy.operations.ExpandRenameField(
            model_name="book", old_name="publisher", new_name="imprint"
        ),
    ]
