from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0012_rename_author_bio_author_biography")]

    operations = [
        migrations.RenameField(model_name="author", old_name="tags", new_name="labels"),
    ]
