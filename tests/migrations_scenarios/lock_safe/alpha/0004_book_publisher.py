import django.db.models.deletion
from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0003_book_constraints")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="publisher",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to="alpha.publisher",
            ),
        ),
        syzygy.operations.AlterFieldConcurrently(
            model_name="book",
            name="publisher",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to="alpha.publisher",
            ),
        ),
        syzygy.operations.AlterFieldConcurrently(
            model_name="book",
            name="title",
            field=models.CharField(max_length=100, db_index=True),
        ),
    ]
