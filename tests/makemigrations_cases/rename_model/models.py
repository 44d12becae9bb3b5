from django.db import models


class Writer(models.Model):
    bio = models.TextField(null=True)
