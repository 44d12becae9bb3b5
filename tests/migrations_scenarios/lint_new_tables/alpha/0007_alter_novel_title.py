from django.db import migrations, models

import syzygy


class Migration(migrations.Migration):
    # The new code has written to the table since the pre-deploy migration
    # created it.
    stage = syzygy.Stage.POST_DEPLOY

    dependencies = [("alpha", "0006_delete_author")]

    operations = [
        migrations.AlterField(
            model_name="novel",
            name="title",
            field=models.CharField(default="", max_length=100),
        ),
    ]
