from django.db import models


class Author(models.Model):
    bio = models.TextField(default="")
