"""Public exceptions. The stage ones subclass ``ValueError`` as they did in 1.x."""

from __future__ import annotations

from django.db import DataError, IntegrityError

__all__ = (
    "AmbiguousPlan",
    "AmbiguousStage",
    "DuplicateValues",
    "UnconvertibleValues",
    "ViolatingRows",
)


class AmbiguousStage(ValueError):
    """The stage of a migration can't be determined from its operations."""


class AmbiguousPlan(ValueError):
    """A migration kept for pre-deploy depends on one postponed to post-deploy."""


class DuplicateValues(IntegrityError):
    """A unique constraint couldn't be added: rows have the same values."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(
            f"The unique constraint {constraint} can't be added: some rows have "
            "the same values. No index was left behind; remove the duplicates, "
            "then run the command again."
        )


class ViolatingRows(IntegrityError):
    """A constraint added ``NOT VALID`` couldn't be validated: rows break it."""

    def __init__(self, constraint: str, table: str) -> None:
        self.constraint = constraint
        super().__init__(
            f"The constraint {constraint} can't be validated: rows of {table} "
            "break it. It stays NOT VALID, which checks new and updated rows "
            "already; fix the existing rows, then run the command again."
        )


class UnconvertibleValues(DataError):
    """A column couldn't be copied to another type: some values don't fit it."""

    def __init__(self, table: str, column: str, new_type: str, error: str) -> None:
        self.table = table
        self.column = column
        super().__init__(
            f"The values of {table}.{column} can't all be converted to {new_type} "
            f"({error}). Nothing was changed: the column of the new type and its "
            "trigger were dropped. Change the values that don't fit, then run the "
            "command again."
        )
