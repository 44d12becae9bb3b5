# Fails on every database: the rehearsal can't go on.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [migrations.RunSQL("ALTER TABLE alpha_missing ADD COLUMN x integer")]
