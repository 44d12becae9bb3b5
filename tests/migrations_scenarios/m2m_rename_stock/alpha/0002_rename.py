from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.RenameField(model_name="book", old_name="tags", new_name="labels"),
    ]
