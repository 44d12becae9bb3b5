from django.db import models


class Tag(models.Model):
    name = models.TextField()


class Writer(models.Model):
    tags = models.ManyToManyField(Tag)

    class Meta:
        db_table = "rename_model_m2m_author"
