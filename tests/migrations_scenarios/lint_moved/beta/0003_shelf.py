from django.db import migrations, models

FIELDS = [
    ("id", models.AutoField(primary_key=True, serialize=False)),
    ("name", models.CharField(max_length=20)),
]


class Migration(migrations.Migration):
    dependencies = [("beta", "0002_checkin_code_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.CreateModel(name="Shelf", fields=FIELDS),
                migrations.AlterModelTable(name="Shelf", table="beta_shelves"),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Shelf", fields=FIELDS, options={"db_table": "beta_shelves"}
                )
            ],
        ),
    ]
