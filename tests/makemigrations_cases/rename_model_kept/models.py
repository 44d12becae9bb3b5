from django.db import models


class Writer(models.Model):
    bio = models.TextField(null=True)

    class Meta:
        db_table = "rename_model_kept_author"


class Book(models.Model):
    author = models.ForeignKey(Writer, models.CASCADE)
