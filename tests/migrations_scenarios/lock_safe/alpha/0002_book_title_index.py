from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.AddIndexConcurrently(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
    ]
