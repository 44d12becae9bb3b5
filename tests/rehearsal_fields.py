"""A field type the rehearsal has no values for, as third-party fields may be."""

from __future__ import annotations

from typing import Any

from django.db import models


class Point(models.Field):  # type: ignore[type-arg]
    """A point stored as text, of an internal type of its own."""

    def db_type(self, connection: Any) -> str:
        return "text"


class Refused(models.IntegerField):  # type: ignore[type-arg]
    """An integer field that refuses every value before any query, as a
    field with validation in ``get_prep_value`` does."""

    def get_prep_value(self, value: Any) -> Any:
        raise ValueError("this field takes no value the rehearsal makes")
