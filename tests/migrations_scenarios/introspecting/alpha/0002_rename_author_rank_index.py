from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    # Which index to rename is read from the database.
    operations = [
        migrations.RenameIndex(
            model_name="author", new_name="author_rank_idx", old_fields=("rank",)
        ),
    ]
