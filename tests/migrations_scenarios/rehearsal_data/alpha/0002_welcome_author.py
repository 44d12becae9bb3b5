from django.db import migrations


def welcome(apps, schema_editor):
    # Without using(): the default database, as many data migrations write.
    apps.get_model("alpha", "Author").objects.create(name="made by a data migration")


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RunPython(welcome, migrations.RunPython.noop)]
