from django.db import migrations, models

import syzygy


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_author_name_index")]

    operations = [
        syzygy.reviewed(
            migrations.AddIndex(
                model_name="author",
                index=models.Index(fields=["city"], name="author_city_idx"),
            ),
            "syzygy.W002",
            reason="Most cities are NULL: the index is tiny.",
        ),
        migrations.AddIndex(
            model_name="author",
            index=models.Index(fields=["rating"], name="author_rating_idx"),
        ),
    ]
