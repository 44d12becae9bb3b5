"""A field type the rehearsal has no values for, as third-party fields may be."""

from __future__ import annotations

from typing import Any

from django.db import models


class Point(models.Field):  # type: ignore[type-arg]
    """A point stored as text, of an internal type of its own."""

    def db_type(self, connection: Any) -> str:
        return "text"
