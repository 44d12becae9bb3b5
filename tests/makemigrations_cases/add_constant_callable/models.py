from django.db import models


def default_preferences():
    return {"newsletter": False, "languages": ["en"]}


class Publisher(models.Model):
    name = models.CharField(max_length=100)


class Author(models.Model):
    name = models.CharField(max_length=100)
    # Callables that return the same value at every call: one value for
    # every existing row is right, no row-by-row backfill.
    settings = models.JSONField(default=dict)
    preferences = models.JSONField(default=default_preferences)
