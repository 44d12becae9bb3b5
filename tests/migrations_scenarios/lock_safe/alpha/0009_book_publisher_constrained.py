import django.db.models.deletion
from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0008_book_publisher_unconstrained")]

    operations = [
        syzygy.operations.AlterFieldConcurrently(
            model_name="book",
            name="publisher",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to="alpha.publisher",
            ),
        ),
    ]
