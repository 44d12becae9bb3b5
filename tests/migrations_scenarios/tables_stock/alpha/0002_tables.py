from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AlterModelTable(name="book", table="library_books"),
        migrations.RenameModel(old_name="Shelf", new_name="Rack"),
    ]
