from django.db import migrations

import syzygy


class Migration(migrations.Migration):
    stage = syzygy.Stage.PRE_DEPLOY

    dependencies = [("alpha", "0014_rename_publisher_press")]

    operations = [migrations.RemoveField(model_name="author", name="city")]
