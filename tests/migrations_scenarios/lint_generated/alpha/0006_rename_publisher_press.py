from django.db import migrations

import syzygy.constants
import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [
        ("alpha", "0005_backfill_author_uuid_and_more"),
        # Reverting the rename renames the content type back.
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        syzygy.operations.RenameModel(
            old_name="Publisher",
            new_name="Press",
            stage=syzygy.constants.Stage["PRE_DEPLOY"],
        ),
    ]
