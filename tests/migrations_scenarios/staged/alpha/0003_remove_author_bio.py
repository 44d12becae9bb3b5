from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_author_rating")]

    operations = [migrations.RemoveField(model_name="author", name="bio")]
