from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Publisher",
            fields=[("id", models.AutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100, db_index=True)),
                ("pages", models.PositiveIntegerField(db_default=1)),
                ("code", models.CharField(max_length=20, unique=True, null=True)),
                (
                    "publisher",
                    models.ForeignKey("alpha.Publisher", models.CASCADE, null=True),
                ),
            ],
        ),
    ]
