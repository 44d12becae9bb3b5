from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100)


class Author(models.Model):
    name = models.CharField(max_length=100)
    # Split: NOT NULL with a default.
    rating = models.IntegerField(default=42)
    updated = models.DateTimeField(auto_now=True)
    publisher = models.ForeignKey(Publisher, models.CASCADE, default=1)
    # Not split.
    nickname = models.CharField(max_length=50, null=True)
    score = models.IntegerField(db_default=7)
    fans = models.ManyToManyField(Publisher, related_name="fans")
