from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    # Changes to a table created earlier in the same migration are safe.
    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("rating", models.IntegerField(null=True)),
            ],
        ),
        migrations.AddIndex(
            model_name="author",
            index=models.Index(fields=["name"], name="author_name_idx"),
        ),
        migrations.AddConstraint(
            model_name="author",
            constraint=models.CheckConstraint(
                condition=models.Q(rating__gte=0), name="author_rating_positive"
            ),
        ),
        migrations.AddField(
            model_name="author",
            name="code",
            field=models.CharField(max_length=10, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="author",
            name="rating",
            field=models.BigIntegerField(default=0),
        ),
    ]
