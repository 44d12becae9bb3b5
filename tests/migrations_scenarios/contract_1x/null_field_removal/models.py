from django.db import models


class Foo(models.Model):
    # The field bar, NOT NULL without a default, is removed.
    def __str__(self) -> str:
        return f"Foo {self.pk}"
