import django.db.models.deletion
from django.db import migrations, models

import tests.rehearsal_fields


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Shelf",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=30)),
                ("code", models.SlugField(unique=True)),
                (
                    "kind",
                    models.CharField(
                        max_length=5, choices=[("wood", "Wood"), ("metal", "Metal")]
                    ),
                ),
                ("email", models.EmailField(max_length=254)),
                ("site", models.URLField(null=True)),
                ("ip", models.GenericIPAddressField()),
                ("upload", models.FileField(upload_to="shelves")),
                ("path", models.FilePathField(path="/tmp")),
                ("count", models.SmallIntegerField()),
                ("big", models.BigIntegerField()),
                ("positive", models.PositiveIntegerField()),
                ("flag", models.BooleanField()),
                ("ratio", models.FloatField()),
                ("price", models.DecimalField(max_digits=6, decimal_places=2)),
                ("day", models.DateField()),
                ("moment", models.DateTimeField()),
                ("at", models.TimeField()),
                ("span", models.DurationField()),
                ("token", models.UUIDField(unique=True)),
                ("blob", models.BinaryField(max_length=16)),
                ("data", models.JSONField()),
                ("text", models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "colour",
                    models.CharField(
                        max_length=10,
                        unique=True,
                        choices=[("red", "Red"), ("blue", "Blue")],
                    ),
                ),
                ("rank", models.FloatField(unique=True)),
                (
                    "weight",
                    models.DecimalField(max_digits=8, decimal_places=3, unique=True),
                ),
                ("number", models.IntegerField(unique=True)),
                ("note", models.CharField(max_length=20, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
                ("pages", models.IntegerField()),
                (
                    "shelf",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.shelf"
                    ),
                ),
                (
                    "parent",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="alpha.book",
                    ),
                ),
                ("tags", models.ManyToManyField(to="alpha.tag")),
            ],
        ),
        migrations.CreateModel(
            name="Cover",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "book",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.book"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Keeper",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "shelf",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to="alpha.shelf"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Chicken",
            fields=[("id", models.AutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Egg",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "chicken",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.chicken"
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="chicken",
            name="egg",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="alpha.egg",
            ),
        ),
        migrations.CreateModel(
            name="Gadget",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=10)),
                ("where", tests.rehearsal_fields.Point(null=True)),
                ("origin", tests.rehearsal_fields.Point(default="0,0")),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(code="fixed"), name="gadget_code_fixed"
                    )
                ]
            },
        ),
        migrations.CreateModel(
            name="Odd",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("spot", tests.rehearsal_fields.Point()),
            ],
        ),
        migrations.CreateModel(
            name="Blob",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("data", models.JSONField(null=True)),
                (
                    "gadget",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="alpha.gadget",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Reader",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=30)),
            ],
        ),
        migrations.CreateModel(
            name="Reading",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "book",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.book"
                    ),
                ),
                (
                    "reader",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.reader"
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="book",
            name="readers",
            field=models.ManyToManyField(through="alpha.Reading", to="alpha.reader"),
        ),
        migrations.CreateModel(
            name="Sleeve",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "cover",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, to="alpha.cover"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Legacy",
            fields=[("id", models.AutoField(primary_key=True, serialize=False))],
            options={"managed": False, "db_table": "legacy_elsewhere"},
        ),
        migrations.CreateModel(
            name="SpecialShelf",
            fields=[],
            options={"proxy": True},
            bases=("alpha.shelf",),
        ),
    ]
