from django.db import migrations

import syzygy


class Migration(migrations.Migration):
    # The field left the model a release ago: no deployed code uses it.
    stage = syzygy.Stage.PRE_DEPLOY

    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RemoveField(model_name="author", name="nickname")]
