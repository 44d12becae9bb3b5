import uuid

from django.db import migrations, models

import syzygy.constants
import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0004_drop_db_default_author_rating_and_more")]

    operations = [
        syzygy.operations.BackfillField(
            model_name="author",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4),
        ),
        syzygy.operations.AlterFieldConcurrently(
            model_name="author",
            name="bio",
            field=models.TextField(default=""),
            stage=syzygy.constants.Stage["POST_DEPLOY"],
        ),
    ]
