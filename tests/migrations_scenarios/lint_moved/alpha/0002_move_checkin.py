from django.db import migrations


class Migration(migrations.Migration):
    # The model moves to beta, and its table is renamed after its new app.
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="Checkin", table="beta_checkin")
            ],
            state_operations=[migrations.DeleteModel(name="Checkin")],
        ),
    ]
