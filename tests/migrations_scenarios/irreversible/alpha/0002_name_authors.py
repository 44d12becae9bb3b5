from django.db import migrations


def name_authors(apps, schema_editor):
    """Give every author a name."""
    apps.get_model("alpha", "Author").objects.filter(name="").update(name="?")


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    # No reverse code: the migration can't be reverted.
    operations = [migrations.RunPython(name_authors)]
