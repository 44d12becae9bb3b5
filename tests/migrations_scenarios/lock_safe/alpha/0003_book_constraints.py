from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_book_title_index")]

    operations = [
        syzygy.operations.AddConstraintNotValid(
            model_name="book",
            constraint=models.CheckConstraint(
                condition=models.Q(pages__gte=0), name="book_pages_positive"
            ),
        ),
        syzygy.operations.AddConstraintNotValid(
            model_name="book",
            constraint=models.UniqueConstraint(
                fields=["title"], name="book_title_unique"
            ),
        ),
        syzygy.operations.AddConstraintNotValid(
            model_name="book",
            constraint=models.UniqueConstraint(
                fields=["title", "pages"],
                name="book_title_pages_unique",
                deferrable=models.Deferrable.DEFERRED,
                nulls_distinct=False,
            ),
        ),
        syzygy.operations.AddConstraintNotValid(
            model_name="book",
            constraint=models.UniqueConstraint(
                fields=["pages"],
                condition=models.Q(pages__gt=1000),
                name="book_big_pages_unique",
            ),
        ),
    ]
