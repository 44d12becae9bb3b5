from django.db import migrations

import syzygy


class Migration(migrations.Migration):
    stage = syzygy.Stage.PRE_DEPLOY

    dependencies = [("alpha", "0002_safe_changes")]

    operations = [
        migrations.RemoveField(model_name="unmanaged", name="name"),
        migrations.DeleteModel(name="AuthorProxy"),
    ]
