from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_remove_author_nickname")]

    operations = [migrations.RemoveField(model_name="author", name="city")]
