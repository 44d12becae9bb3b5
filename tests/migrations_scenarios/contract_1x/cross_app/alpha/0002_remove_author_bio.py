from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RemoveField(model_name="author", name="bio")]
