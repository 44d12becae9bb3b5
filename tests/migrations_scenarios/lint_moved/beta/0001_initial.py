from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("alpha", "0002_move_checkin")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Checkin",
                    fields=[
                        ("id", models.AutoField(primary_key=True, serialize=False)),
                        ("code", models.CharField(max_length=20)),
                    ],
                    options={"db_table": "beta_checkin"},
                ),
            ]
        ),
    ]
