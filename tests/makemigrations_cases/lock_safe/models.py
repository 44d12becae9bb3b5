from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100, db_index=True)
    code = models.CharField(max_length=10, unique=True)
    rating = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["name", "rating"], name="name_rating_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=0), name="rating_positive"
            ),
            models.UniqueConstraint(fields=["name", "code"], name="name_code_unique"),
        ]


class Book(models.Model):
    # A new table needs none of it.
    title = models.CharField(max_length=100, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["title"], name="book_title_idx")]
        constraints = [
            models.UniqueConstraint(fields=["title"], name="book_title_unique")
        ]
