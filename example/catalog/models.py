"""The models of release 2, the code the deploy rolls out.

Release 1 had ``legacy_code`` and no ``currency``: see the migrations.
"""

from __future__ import annotations

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")

    def __str__(self) -> str:
        return f"{self.name} ({self.price} {self.currency})"
