from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0015_remove_author_city")]

    operations = [
        migrations.RemoveField(model_name="author", name="labels"),
        migrations.DeleteModel(name="Tag"),
    ]
