import django.db.models.deletion
from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0007_backfill_book_ref")]

    operations = [
        syzygy.operations.AlterFieldConcurrently(
            model_name="book",
            name="publisher",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to="alpha.publisher",
            ),
        ),
    ]
