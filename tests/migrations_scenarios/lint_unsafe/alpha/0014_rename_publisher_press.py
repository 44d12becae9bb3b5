from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alpha", "0013_rename_author_tags_author_labels"),
        # Reverting the rename renames the content type back.
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel(old_name="Publisher", new_name="Press"),
    ]
