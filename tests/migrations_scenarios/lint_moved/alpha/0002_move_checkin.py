from django.db import migrations


class Migration(migrations.Migration):
    # The model moves to beta, its table stays.
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Checkin")]
        ),
    ]
