from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_rendezvous")]

    operations = [migrations.RemoveField(model_name="author", name="bio")]
