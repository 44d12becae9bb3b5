from django.db import migrations, models


class Migration(migrations.Migration):
    # The replaced migrations were deleted after every database applied them.
    replaces = [("alpha", "0001_initial"), ("alpha", "0002_mixed")]

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("bio", models.TextField(null=True)),
            ],
        ),
        migrations.RemoveField(model_name="author", name="bio"),
    ]
