"""A primary key widened without rewriting tables under a lock: the key and
every column that references it, on PostgreSQL.

``ExpandAlterField`` and ``ContractAlterField`` use it for a primary key
(``AutoField`` to ``BigAutoField``...). The expand step gives the key and
each column that references it (foreign keys and one-to-one fields of any
app, columns of many-to-many tables) a shadow column of the wider type,
kept in sync by a trigger and filled in batches, with a copy of each of
the column's indexes and constraints but its foreign key, built without
blocking writes. The contract step swaps them all in one short
transaction: the sequence or identity moves to the new key, the primary
key is added on its unique index, and the foreign keys are added
``NOT VALID``, then validated while reads and writes go on.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.loader import MigrationLoader

from .. import compat, postgresql
from ..exceptions import UnconvertibleValues
from .concurrent import _name
from .synced import _copy_label, _execute_together, _shadow_column, _SyncedColumns

# The integer type of the column of a key, and of the columns referencing it.
_INTEGER_FIELDS: dict[str, type[models.Field[Any, Any]]] = {
    "smallint": models.SmallIntegerField,
    "integer": models.IntegerField,
    "bigint": models.BigIntegerField,
}


def references(model: type[models.Model]) -> list[Any]:
    """Return the fields whose columns reference the primary key of
    ``model``: foreign keys and one-to-one fields of any model, those of
    auto-created many-to-many tables included."""
    key = model._meta.pk
    assert key is not None
    return [
        relation.field
        for relation in compat.relations_to(model)
        if not relation.many_to_many
        and relation.field.concrete
        and relation.field.to_fields[0] in (None, key.name)
        and relation.related_model._meta.managed
        and not relation.related_model._meta.proxy
    ]


def _all_references(
    model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
) -> list[Any]:
    """Return the fields whose columns reference the primary key of
    ``model``, in its state and in that of the migrations applied.

    Reverting, the state of a migration lacks the models of the migrations
    the plan applies after it, applied too.
    """
    found = {
        (field.model._meta.db_table, field.column): field for field in references(model)
    }
    loader = MigrationLoader(schema_editor.connection)
    applied = [key for key in loader.applied_migrations if key in loader.graph.nodes]
    state = loader.project_state(applied, at_end=True)
    if (model._meta.app_label, model._meta.model_name) in state.models:
        applied_model = state.apps.get_model(model._meta.label)
        for field in references(applied_model):
            found.setdefault((field.model._meta.db_table, field.column), field)
    return list(found.values())


def is_key_change(field: Any, current: Any) -> bool:
    """Return whether changing ``current`` to ``field`` changes the type of
    a primary key."""
    return bool(field.primary_key and current.primary_key)


class _WidenedKey:
    """The primary key of ``model`` and the columns referencing it, each kept
    equal to a shadow column of the type of ``field`` by a trigger;
    ``current`` is the key's field the columns are of.

    It has the methods of ``_SyncedColumns`` the expand and contract steps
    call.
    """

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        field: Any,
        current: Any,
    ) -> None:
        self.schema_editor = schema_editor
        connection = schema_editor.connection
        self.source_type = current.rel_db_type(connection)
        self.target_type = field.rel_db_type(connection)
        types = list(_INTEGER_FIELDS)
        self.back = types.index(self.target_type) < types.index(self.source_type)
        integer = _INTEGER_FIELDS[self.target_type]

        def synced(column_of: Any, **options: Any) -> _SyncedColumns:
            owner = column_of.model
            target = integer(**options)
            target.set_attributes_from_name(str(column_of.name))
            target.model = owner
            column = str(column_of.column)
            target.column = _shadow_column(schema_editor, owner._meta.db_table, column)
            # The indexes and constraints the column has, whatever made them.
            return _SyncedColumns(
                schema_editor,
                owner,
                column,
                target,
                source_type=self.source_type,
                copy_all=True,
            )

        self.key = synced(current)
        self.references = [
            (
                reference,
                synced(reference, null=reference.null),
            )
            for reference in _all_references(model, schema_editor)
        ]

    def _all(self) -> list[_SyncedColumns]:
        return [self.key, *(columns for _, columns in self.references)]

    def has_target(self) -> bool:
        """Return whether every column has its shadow, or is of the new type."""
        return self._swapped() or all(columns.has_target() for columns in self._all())

    def _swapped(self) -> bool:
        """Return whether the key has been swapped: no shadow, the new type."""
        return not self.key.has_target() and self.target_type == (
            postgresql.column_type(
                self.schema_editor, self.key.table, self.key.source_column
            )
        )

    def expand(self, label: str) -> None:
        """Add, fill and index the shadow columns; if the values don't fit,
        drop them all. ``label`` is the progress label of the key's copy."""
        try:
            self.key.expand(label)
            for reference, columns in self.references:
                columns.expand(_copy_label(reference.model, reference.name, self.back))
        except UnconvertibleValues:
            self.drop()
            raise

    def drop(self) -> None:
        """Drop the triggers and the shadow columns."""
        for columns in self._all():
            columns.drop()

    def finish(self, rename_to: str | None = None) -> None:
        """Swap in the shadow columns, in one short transaction, then
        validate the foreign keys, each in a transaction of its own."""
        collecting = self.schema_editor.collect_sql
        if collecting or not self._swapped():
            if not collecting:
                for columns in self._all():
                    columns.copy_structures()
            first, last = self._sequence_statements()
            statements = [*first]
            # The references first: their foreign keys depend on the key.
            for _, columns in self.references:
                statements += columns.finish_statements(columns.source_column)
            statements += self.key.finish_statements(self.key.source_column)
            statements += last
            statements += [
                f"{add_foreign_key} NOT VALID"
                for _, _, add_foreign_key in self._foreign_keys()
            ]
            _execute_together(self.schema_editor, statements)
        for table, name, _ in self._foreign_keys():
            postgresql.validate_constraint(self.schema_editor, table, name)

    def _foreign_keys(self) -> list[tuple[str, str, str]]:
        """Return the table, name and ``ADD CONSTRAINT`` statement of each
        foreign key constraint referencing the key."""
        foreign_keys = []
        for reference, _ in self.references:
            if reference.db_constraint:
                # Named as AlterField names those it re-creates.
                statement = compat.foreign_key_statement(
                    self.schema_editor, reference.model, reference, "_fk"
                )
                foreign_keys.append(
                    (reference.model._meta.db_table, _name(statement), str(statement))
                )
        return foreign_keys

    def _sequence_statements(self) -> tuple[list[str], list[str]]:
        """Return the statements that give the shadow key the sequence or
        identity of the key, before and after the swap."""
        quote = self.schema_editor.quote_name
        table, column = self.key.quoted_table, self.key.source_column
        with self.schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, attidentity FROM pg_attribute "
                "JOIN pg_class ON pg_class.oid = "
                "pg_get_serial_sequence(%s, attname)::regclass "
                "WHERE attrelid = to_regclass(%s) AND attname = %s",
                [table, table, column],
            )
            row = cursor.fetchone()
        if row is None:
            return [], []
        sequence, identity = quote(row[0]), row[1]
        if identity:
            # The shadow gets an identity of its own, at the key's value;
            # the key's goes with it.
            shadow = self.key.column
            provisional = quote(f"{row[0][:50]}_syzygy")
            generated = "ALWAYS" if identity == "a" else "BY DEFAULT"
            return (
                [
                    f"ALTER TABLE {table} ALTER COLUMN {shadow} ADD GENERATED "
                    f"{generated} AS IDENTITY (SEQUENCE NAME {provisional})",
                    f"SELECT setval('{provisional}', last_value, is_called) "
                    f"FROM {sequence}",
                ],
                [f"ALTER SEQUENCE {provisional} RENAME TO {sequence}"],
            )
        # A serial column's sequence: kept, of the new type.
        quoted_column = quote(column)
        return (
            [
                f"ALTER SEQUENCE {sequence} OWNED BY NONE",
                f"ALTER SEQUENCE {sequence} AS {self.target_type}",
            ],
            [
                f"ALTER TABLE {table} ALTER COLUMN {quoted_column} SET DEFAULT "
                f"nextval('{sequence}'::regclass)",
                f"ALTER SEQUENCE {sequence} OWNED BY {table}.{quoted_column}",
            ],
        )
