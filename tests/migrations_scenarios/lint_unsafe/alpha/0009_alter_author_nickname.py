from django.db import migrations, models

import syzygy.constants
import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0008_alter_author_bio")]

    operations = [
        syzygy.operations.AlterField(
            model_name="author",
            name="nickname",
            field=models.CharField(default="", max_length=50),
            stage=syzygy.constants.Stage["POST_DEPLOY"],
        ),
    ]
