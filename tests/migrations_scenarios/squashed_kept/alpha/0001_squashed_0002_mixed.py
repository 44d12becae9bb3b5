from django.db import migrations, models


class Migration(migrations.Migration):
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
        # Squashed by hand, without the optimizer: it mixes stages too.
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        migrations.RemoveField(model_name="author", name="bio"),
    ]
