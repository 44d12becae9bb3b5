from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_squashed_0002_author_rating")]

    operations = [migrations.RemoveField(model_name="author", name="bio")]
