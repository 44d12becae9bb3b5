from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0011_alter_author_rating")]

    operations = [
        migrations.RenameField(
            model_name="author", old_name="bio", new_name="biography"
        ),
    ]
