from django.db import models


class Author(models.Model):
    bio = models.TextField(null=True)
    rating = models.IntegerField(null=True)
    score = models.IntegerField(null=True)
