from django.db import models


class Author(models.Model):
    # Metadata only: a wider varchar.
    name = models.CharField(max_length=100)
    # Rewrites the table, and may not convert: integer to smallint.
    rating = models.SmallIntegerField()
