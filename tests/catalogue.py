"""Read the schema from the database catalogue."""

from __future__ import annotations

from django.db import connections
from django.db.backends.base.introspection import FieldInfo


def table_columns(table: str, using: str = "default") -> dict[str, FieldInfo]:
    """Return the columns of ``table`` as the database catalogue describes them."""
    connection = connections[using]
    with connection.cursor() as cursor:
        return {
            column.name: column
            for column in connection.introspection.get_table_description(cursor, table)
        }


def table_names(using: str = "default") -> set[str]:
    return set(connections[using].introspection.table_names())
