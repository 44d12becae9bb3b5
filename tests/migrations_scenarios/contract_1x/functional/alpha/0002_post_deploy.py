from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_pre_deploy")]

    # Post-deploy: "unless it contains a destructive operation" (1.x README).
    operations = [migrations.RemoveField(model_name="author", name="bio")]
