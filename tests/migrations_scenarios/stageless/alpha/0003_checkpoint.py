from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_remove_author_bio")]

    operations = []
