from django.db import models


class Author(models.Model):
    biography = models.TextField(null=True)

    class Meta:
        indexes = [models.Index(fields=["biography"], name="author_bio")]
