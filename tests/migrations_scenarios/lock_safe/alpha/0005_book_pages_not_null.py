from django.db import migrations, models

import syzygy.constants
import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0004_book_publisher")]

    operations = [
        syzygy.operations.AlterFieldConcurrently(
            model_name="book",
            name="pages",
            field=models.IntegerField(),
            stage=syzygy.constants.Stage["POST_DEPLOY"],
        ),
    ]
