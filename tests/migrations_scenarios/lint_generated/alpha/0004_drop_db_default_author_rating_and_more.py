import django.utils.timezone
from django.db import migrations, models

import syzygy
import syzygy.operations


class Migration(migrations.Migration):
    stage = syzygy.Stage.POST_DEPLOY

    dependencies = [("alpha", "0003_alter_author_publisher_and_more")]

    operations = [
        syzygy.operations.PostAddField(
            model_name="author",
            name="rating",
            field=models.IntegerField(default=0),
        ),
        syzygy.operations.PostAddField(
            model_name="author",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RemoveField(model_name="author", name="nickname"),
    ]
