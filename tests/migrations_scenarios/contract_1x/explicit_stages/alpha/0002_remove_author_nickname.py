from django.db import migrations

from syzygy import Stage


class Migration(migrations.Migration):
    # 1.x README: "When this attribute is defined it will bypass operations
    # based heuristics."
    stage = Stage.PRE_DEPLOY

    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RemoveField(model_name="author", name="nickname")]
