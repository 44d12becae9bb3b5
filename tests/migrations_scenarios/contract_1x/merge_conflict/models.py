from django.db import models


class Foo(models.Model):
    first = models.IntegerField(null=True)
    second = models.IntegerField(null=True)

    def __str__(self) -> str:
        return f"Foo {self.pk}"
