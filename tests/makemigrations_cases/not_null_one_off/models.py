from django.db import models


class Author(models.Model):
    # NOT NULL without a default: existing NULLs get a one-off default.
    bio = models.TextField()
