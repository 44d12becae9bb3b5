from django.db import migrations

import syzygy


class Migration(migrations.Migration):
    stage = syzygy.Stage.PRE_DEPLOY

    dependencies = [("alpha", "0005_novel_title_unique")]

    operations = [migrations.DeleteModel(name="Author")]
