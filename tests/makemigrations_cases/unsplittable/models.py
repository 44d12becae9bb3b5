from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=100)


class Author(models.Model):
    # Was a ManyToManyField: Django removes it and adds it again.
    tags = models.ForeignKey(Tag, models.CASCADE, null=True)
