from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.RenameField(
            model_name="book", old_name="title", new_name="headline"
        ),
        migrations.RenameField(
            model_name="book", old_name="pages", new_name="page_count"
        ),
        migrations.RenameField(model_name="book", old_name="code", new_name="isbn"),
        migrations.RenameField(
            model_name="book", old_name="publisher", new_name="imprint"
        ),
    ]
