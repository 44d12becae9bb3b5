import uuid

from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100)


class Author(models.Model):
    name = models.CharField(max_length=100)
    token = models.UUIDField(default=uuid.uuid4)
