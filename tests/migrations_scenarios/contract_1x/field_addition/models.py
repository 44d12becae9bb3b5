from django.db import models


class Foo(models.Model):
    # Added: NOT NULL with a default.
    bar = models.IntegerField(default=42)

    def __str__(self) -> str:
        return f"Foo {self.pk}"
