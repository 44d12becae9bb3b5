from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    # Renaming a model renames its content type: the state needs the app.
    dependencies = [("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.CreateModel(
            name="Shelf",
            fields=[("id", models.AutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=20)),
            ],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
                ("pages", models.PositiveIntegerField(db_default=1)),
                (
                    "shelf",
                    models.ForeignKey("alpha.Shelf", models.CASCADE, null=True),
                ),
                ("tags", models.ManyToManyField("alpha.Tag")),
            ],
        ),
    ]
