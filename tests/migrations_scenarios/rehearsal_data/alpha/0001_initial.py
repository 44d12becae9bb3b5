import django.db.models.deletion
from django.db import migrations, models

import tests.rehearsal_fields


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        # A child of multi-table inheritance: no bulk create.
        migrations.CreateModel(
            name="Writer",
            fields=[
                (
                    "author_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="alpha.author",
                    ),
                ),
                ("books", models.IntegerField(default=0)),
            ],
            bases=("alpha.author",),
        ),
        migrations.CreateModel(
            name="Stamp",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("value", tests.rehearsal_fields.Refused(null=True)),
            ],
        ),
    ]
