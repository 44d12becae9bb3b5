from django.db import migrations

import syzygy.constants
import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0006_rename_publisher_press")]

    operations = [
        syzygy.operations.RenameField(
            model_name="author",
            old_name="bio",
            new_name="biography",
            stage=syzygy.constants.Stage["POST_DEPLOY"],
        ),
    ]
