from django.db import models


class Author(models.Model):
    biography = models.TextField(null=True)
    age = models.IntegerField(null=True)
