from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0016_delete_tag")]

    operations = [migrations.AlterModelTable(name="author", table="people")]
