from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alpha", "0003_book_title_index"),
        # Reverting the rename renames the content type back.
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RenameModel(old_name="Book", new_name="Novel")]
