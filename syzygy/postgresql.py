"""Lock-safe DDL steps on PostgreSQL, for the operations of a non-atomic migration.

Each step is one statement: ``migrate`` runs it in a transaction of its own
with bounded lock waits (``CONCURRENTLY`` statements can't run in one), so
no lock that blocks the application's reads and writes is held while a table
is scanned. Every step first looks at the catalogue and skips what an
earlier, interrupted run already did, so a migration made of them can be run
again from its start.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from .exceptions import DuplicateValues, ViolatingRows

__all__ = (
    "add_constraint_not_valid",
    "add_unique_constraint_using_index",
    "concurrently",
    "create_index_concurrently",
    "drop_index_concurrently",
    "has_column",
    "set_not_null",
)

_CREATE_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)")


def concurrently(create_index: str) -> str:
    """Return a ``CREATE [UNIQUE] INDEX`` statement built ``CONCURRENTLY``."""
    return _CREATE_INDEX.sub(r"CREATE \1INDEX CONCURRENTLY ", str(create_index), 1)


def _inspecting(schema_editor: BaseDatabaseSchemaEditor) -> bool:
    # sqlmigrate collects the statements without running them: show them all.
    return not schema_editor.collect_sql


def _fetch(schema_editor: BaseDatabaseSchemaEditor, sql: str, params: list[Any]) -> Any:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def _index_validity(schema_editor: BaseDatabaseSchemaEditor, name: str) -> bool | None:
    """Return whether the index ``name`` is valid, or ``None`` if there is none."""
    return _fetch(  # type: ignore[no-any-return]
        schema_editor,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
        [schema_editor.quote_name(name)],
    )


def has_column(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str
) -> bool:
    """Return whether ``table`` has the column ``column``."""
    return bool(
        _fetch(
            schema_editor,
            "SELECT true FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attname = %s AND NOT attisdropped",
            [schema_editor.quote_name(table), column],
        )
    )


def column_type(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str
) -> str | None:
    """Return the type of the column ``column`` of ``table`` (``None``: no
    such column), without its modifiers: ``bigint``, ``character varying``."""
    return _fetch(  # type: ignore[no-any-return]
        schema_editor,
        "SELECT format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
        [schema_editor.quote_name(table), column],
    )


def _has_constraint(
    schema_editor: BaseDatabaseSchemaEditor, table: str, name: str
) -> bool:
    return bool(
        _fetch(
            schema_editor,
            "SELECT true FROM pg_constraint "
            "WHERE conrelid = to_regclass(%s) AND conname = %s",
            [schema_editor.quote_name(table), name],
        )
    )


def create_index_concurrently(
    schema_editor: BaseDatabaseSchemaEditor,
    name: str,
    create_index: str,
    *,
    constraint: str | None = None,
) -> None:
    """Build the index ``name`` without blocking writes.

    An INVALID index, left by an interrupted build, is dropped and built
    again. A unique index that finds duplicate values is dropped and
    ``DuplicateValues`` names ``constraint`` (or the index).
    """
    if _inspecting(schema_editor):
        validity = _index_validity(schema_editor, name)
        if validity:
            return
        if validity is False:
            drop_index_concurrently(schema_editor, name)
    try:
        schema_editor.execute(concurrently(create_index), params=None)
    except IntegrityError as error:
        drop_index_concurrently(schema_editor, name)
        raise DuplicateValues(constraint or name) from error


def drop_index_concurrently(schema_editor: BaseDatabaseSchemaEditor, name: str) -> None:
    """Drop the index ``name``, if there is one, without blocking writes."""
    schema_editor.execute(
        f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}",
        params=None,
    )


def add_constraint_not_valid(
    schema_editor: BaseDatabaseSchemaEditor, table: str, name: str, add_constraint: str
) -> None:
    """Add a constraint without scanning the table under an exclusive lock.

    ``ADD CONSTRAINT ... NOT VALID`` only checks new rows and is quick;
    ``VALIDATE CONSTRAINT`` then checks the existing ones with a lock that
    lets reads and writes go on.
    """
    if not (_inspecting(schema_editor) and _has_constraint(schema_editor, table, name)):
        schema_editor.execute(f"{add_constraint} NOT VALID", params=None)
    validate_constraint(schema_editor, table, name)


def validate_constraint(
    schema_editor: BaseDatabaseSchemaEditor, table: str, name: str
) -> None:
    """Check the rows a constraint added ``NOT VALID`` didn't, with a lock
    that lets reads and writes go on."""
    try:
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} "
            f"VALIDATE CONSTRAINT {schema_editor.quote_name(name)}",
            params=None,
        )
    except IntegrityError as error:
        raise ViolatingRows(name, table) from error


def add_unique_constraint_using_index(
    schema_editor: BaseDatabaseSchemaEditor,
    table: str,
    name: str,
    create_unique_index: str,
    constraint_options: str = "",
) -> None:
    """Add the unique constraint ``name`` on the unique index built first."""
    if _inspecting(schema_editor) and _has_constraint(schema_editor, table, name):
        return
    create_index_concurrently(schema_editor, name, create_unique_index, constraint=name)
    quoted = schema_editor.quote_name(name)
    schema_editor.execute(
        f"ALTER TABLE {schema_editor.quote_name(table)} ADD CONSTRAINT {quoted} "
        f"UNIQUE USING INDEX {quoted}{constraint_options}",
        params=None,
    )


def set_not_null(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str, check: str
) -> None:
    """Make ``column`` NOT NULL without scanning the table under an exclusive lock.

    A validated ``CHECK (column IS NOT NULL)`` lets ``SET NOT NULL`` skip its
    scan; the check is dropped afterwards.
    """
    quoted_table = schema_editor.quote_name(table)
    quoted_column = schema_editor.quote_name(column)
    quoted_check = schema_editor.quote_name(check)
    drop_check = f"ALTER TABLE {quoted_table} DROP CONSTRAINT IF EXISTS {quoted_check}"
    if _inspecting(schema_editor) and _fetch(
        schema_editor,
        "SELECT attnotnull FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attname = %s",
        [quoted_table, column],
    ):
        # An interrupted run may have left its check behind.
        if _has_constraint(schema_editor, table, check):
            schema_editor.execute(drop_check, params=None)
        return
    add_constraint_not_valid(
        schema_editor,
        table,
        check,
        f"ALTER TABLE {quoted_table} ADD CONSTRAINT {quoted_check} "
        f"CHECK ({quoted_column} IS NOT NULL)",
    )
    schema_editor.execute(
        f"ALTER TABLE {quoted_table} ALTER COLUMN {quoted_column} SET NOT NULL",
        params=None,
    )
    schema_editor.execute(drop_check, params=None)
