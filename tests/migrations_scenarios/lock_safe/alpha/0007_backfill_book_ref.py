import uuid

from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0006_book_ref")]

    operations = [
        syzygy.operations.BackfillField(
            model_name="book",
            name="ref",
            field=models.UUIDField(default=uuid.uuid4),
            batch_size=2,
        ),
    ]
