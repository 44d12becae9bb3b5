from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.ExpandRenameField(
            model_name="book", old_name="tags", new_name="labels"
        ),
    ]
