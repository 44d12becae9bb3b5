"""Two columns of a table kept equal by a trigger, on PostgreSQL: the
machinery of the expand and contract steps.

The expand step adds the target column beside the source one, with a trigger
that copies what either side writes to the other (casting the values when
the types differ), copies the existing rows in batches, then builds the
target's constraints and indexes under provisional names. The finishing
step drops the trigger and the source column in one short transaction and
gives the target the names the source's had.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from django.db import DataError, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .. import batches, compat, conf, postgresql
from ..constants import COLUMN_PLACEHOLDER
from ..exceptions import UnconvertibleValues
from ..executor import deploy_output
from ..locks import set_local_statements
from .backfill import _Backfill
from .concurrent import _add_constraints, _name
from .staged import AnyField


class _StateUnchanged(Operation):
    """An operation that changes nothing in the migration state, nor on
    databases other than PostgreSQL."""

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def references(self) -> list[tuple[str, str | None]]:
        """Return the model and field names (``None``: the whole model) the
        operation touches."""
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def references_model(self, name: str, app_label: str) -> bool:
        return any(model.lower() == name.lower() for model, _ in self.references())

    def references_field(self, model_name: str, name: str, app_label: str) -> bool:
        return any(
            model.lower() == model_name.lower()
            and (field is None or field.lower() == name.lower())
            for model, field in self.references()
        )

    def reduce(self, operation: Operation, app_label: str) -> bool | list[Operation]:
        # Operations on other models or fields may move across it.
        return super().reduce(operation, app_label) or not any(
            operation.references_field(model_name, name, app_label)
            if name
            else operation.references_model(model_name, app_label)
            for model_name, name in self.references()
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass

    database_backwards = database_forwards


# Ends the names of the indexes and constraints an expand step builds.
_PROVISIONAL_SUFFIX = "_syzygy"
# Ends the name of a shadow column.
_SHADOW_SUFFIX = "_syzygy"


class _Structure(NamedTuple):
    """An index or a constraint of a table: its kind is "i" for an index,
    else the type of the constraint ("p", "u", "c")."""

    name: str
    kind: str
    definition: str
    unique: bool
    deferred: bool


class _SyncedColumns:
    """A column kept equal to another of its table by a trigger, on PostgreSQL.

    ``source_column`` is the column the rows have; the column of ``target``
    is the one added beside it, or kept when the other is dropped. Given
    ``source_type``, the type of the source column when it differs from the
    target's, values are cast from one to the other, or converted with the
    SQL expressions ``conversion`` (source to target) and
    ``reverse_conversion`` (target to source), in which ``{column}`` stands
    for the value converted. With ``copy_all``, the target gets a copy of
    every index and constraint of the source but its foreign key, instead
    of those its field defines.
    """

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        source_column: str,
        target: Any,
        source_type: str | None = None,
        conversion: str | None = None,
        reverse_conversion: str | None = None,
        copy_all: bool = False,
    ) -> None:
        self.schema_editor = schema_editor
        self.copy_all = copy_all
        self.model = model
        self.target = target
        quote = schema_editor.quote_name
        self.table = model._meta.db_table
        self.quoted_table = quote(self.table)
        self.source_column = source_column
        self.source = quote(source_column)
        self.column = quote(str(target.column))
        self.to_target = self.to_source = COLUMN_PLACEHOLDER
        if source_type is not None:
            target_type = target.db_type(schema_editor.connection)
            self.to_target = conversion or f"{COLUMN_PLACEHOLDER}::{target_type}"
            self.to_source = (
                reverse_conversion or f"{COLUMN_PLACEHOLDER}::{source_type}"
            )
        # One name for both directions: each step drops what another made.
        first, second = sorted([source_column, str(target.column)])
        name = compat.index_name(
            schema_editor, self.table, f"{first}_{second}", "_sync"
        )
        # The trigger and its function share it.
        self.trigger = quote(name)

    def expand(self, label: str) -> None:
        """Add the target column in sync with the source one, fill it, then
        give it its NOT NULL, indexes and constraints.

        These get provisional names, free whatever the source's are:
        ``finish`` renames them.
        """
        self._execute(self._add_column_sql(), self._sync_sql())
        backfill = _Backfill(
            self.schema_editor,
            self.model,
            self.target,
            _converted(self.to_target, self.source),
        )
        if self.schema_editor.collect_sql:
            self.schema_editor.collected_sql.append(
                f"-- Copy {self.source} to {self.column} where it is NULL, in "
                f"batches, each a transaction of its own: {backfill.describe()}"
            )
        else:
            try:
                batches.walk_in_batches(
                    backfill.batch,
                    using=self.schema_editor.connection.alias,
                    total=backfill.rows(),
                    label=label,
                    stream=deploy_output(),
                )
            except DataError as error:
                # Left in place, the trigger would fail the writes of such
                # values too.
                self.drop()
                raise UnconvertibleValues(
                    self.table,
                    self.source_column,
                    self.target.db_type(self.schema_editor.connection),
                    str(error).strip().splitlines()[0],
                ) from error
        named = self._provisional_name
        _add_constraints(self.schema_editor, self.model, None, self.target, named)
        self.copy_structures()
        check = self.target.db_check(self.schema_editor.connection)
        if check:
            name = named(_check_name(self.schema_editor, self.model, self.target))
            postgresql.add_constraint_not_valid(
                self.schema_editor,
                self.table,
                name,
                f"ALTER TABLE {self.quoted_table} ADD CONSTRAINT "
                f"{self.schema_editor.quote_name(name)} CHECK ({check})",
            )

    def has_target(self) -> bool:
        """Return whether the table has the target column."""
        return postgresql.has_column(
            self.schema_editor, self.table, str(self.target.column)
        )

    def drop(self) -> None:
        """Drop the trigger and the target column, in one short transaction."""
        self._execute(
            *self._drop_trigger_sql(),
            f"ALTER TABLE {self.quoted_table} DROP COLUMN IF EXISTS {self.column}",
        )

    def finish(self, rename_to: str | None = None) -> None:
        """Drop the trigger and the source column, in one short transaction;
        with ``rename_to``, the target column takes that name.

        The target column's indexes and constraints of provisional names
        take the names of the source's, and its foreign key the name Django
        gives it, as ``RenameField`` leaves them; it gets its database
        default.
        """
        if not self.schema_editor.collect_sql:
            self.copy_structures()
        self._execute(*self.finish_statements(rename_to))

    def finish_statements(self, rename_to: str | None = None) -> list[str]:
        """Return the statements of ``finish``, to run in one transaction."""
        copies = self._copied_structures()
        renames = [*self._renames(copies), *self._copies_taking_names(copies)]
        if self.schema_editor.collect_sql and not renames:
            # sqlmigrate, before the expand step ran.
            self.schema_editor.collected_sql.append(
                f"-- The indexes and constraints of {self.column} the expand step "
                f"built take the names of those of {self.source}."
            )
        statements = [
            *self._drop_trigger_sql(),
            f"ALTER TABLE {self.quoted_table} DROP COLUMN IF EXISTS {self.source}",
            *renames,
        ]
        column = self.column
        if rename_to is not None:
            column = self.schema_editor.quote_name(rename_to)
            statements.append(
                f"ALTER TABLE {self.quoted_table} RENAME COLUMN {self.column} "
                f"TO {column}"
            )
        if self.target.has_db_default():
            sql, params = self.schema_editor.db_default_sql(self.target)
            default = sql % tuple(map(self.schema_editor.quote_value, params))
            statements.append(
                f"ALTER TABLE {self.quoted_table} ALTER COLUMN {column} "
                f"SET DEFAULT {default}"
            )
        return statements

    def _drop_trigger_sql(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {self.trigger} ON {self.quoted_table}",
            f"DROP FUNCTION IF EXISTS {self.trigger}()",
        ]

    def _provisional_name(self, name: str) -> str:
        return compat.index_name(
            self.schema_editor, self.table, name, _PROVISIONAL_SUFFIX
        )

    def _renames(self, copies: list[_Structure]) -> list[str]:
        """Return the statements that give the target's indexes and
        constraints their final names; the ``copies`` of structures take
        theirs otherwise."""
        quote = self.schema_editor.quote_name
        source: dict[tuple[str, str], list[str]] = {}
        target: list[tuple[str, str, str]] = []
        for name, column, kind, signature in self._structures():
            if column == self.source_column:
                source.setdefault((kind, signature), []).append(name)
            else:
                target.append((name, kind, signature))
        copied = {self._copy_name(structure.name) for structure in copies}
        statements = []
        for name, kind, signature in target:
            if not name.endswith(_PROVISIONAL_SUFFIX) or name in copied:
                continue
            if kind == "f":
                statement = compat.foreign_key_statement(
                    self.schema_editor, self.model, self.target
                )
                final = _name(statement)
            elif source.get((kind, signature)):
                final = source[kind, signature].pop(0)
            else:
                continue
            if kind == "i":
                statements.append(f"ALTER INDEX {quote(name)} RENAME TO {quote(final)}")
            else:
                statements.append(
                    f"ALTER TABLE {self.quoted_table} RENAME CONSTRAINT "
                    f"{quote(name)} TO {quote(final)}"
                )
        return statements

    def _structures(self) -> list[tuple[str, str, str, str]]:
        """Return the indexes and constraints of the source or target column
        alone: name, column, kind ("i" for an index, else the constraint's
        type) and definition, the column left out."""
        with self.schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, attname, contype::text, "
                "replace(pg_get_constraintdef(pg_constraint.oid), "
                "quote_ident(attname), '?') "
                "FROM pg_constraint JOIN pg_attribute "
                "ON attrelid = conrelid AND attnum = conkey[1] "
                "WHERE conrelid = to_regclass(%(table)s) "
                "AND cardinality(conkey) = 1 AND attname IN (%(source)s, %(target)s) "
                "UNION ALL "
                "SELECT relname, attname, 'i', indisunique::text || ' ' || "
                "replace(regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', "
                "''), quote_ident(attname), '?') "
                "FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid "
                "JOIN pg_attribute ON attrelid = indrelid AND attnum = indkey[0] "
                "WHERE indrelid = to_regclass(%(table)s) AND indnatts = 1 "
                "AND attname IN (%(source)s, %(target)s) AND NOT EXISTS ("
                "SELECT FROM pg_constraint WHERE conrelid = indrelid "
                "AND conindid = indexrelid) "
                "ORDER BY 1",
                {
                    "table": self.quoted_table,
                    "source": self.source_column,
                    "target": str(self.target.column),
                },
            )
            return list(cursor.fetchall())

    def _copied_structures(self) -> list[_Structure]:
        """Return the primary key and the indexes and constraints of several
        columns that include the source column (with ``copy_all``, all of
        them but its foreign key), their definitions with the target column
        instead.

        The target gets copies of them, under provisional names; copies made
        for other targets are left out.
        """
        with self.schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "WITH source AS (SELECT attnum FROM pg_attribute "
                "WHERE attrelid = to_regclass(%(table)s) AND attname = %(source)s) "
                "SELECT relname, coalesce(contype::text, 'i'), "
                "pg_get_indexdef(indexrelid), indisunique, "
                "coalesce(condeferrable AND condeferred, false) "
                "FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid "
                "LEFT JOIN pg_constraint ON conrelid = indrelid "
                "AND conindid = indexrelid AND contype <> 'f' "
                "WHERE indrelid = to_regclass(%(table)s) "
                "AND (SELECT attnum FROM source) = ANY(indkey::int2[]) "
                "AND (indnatts > 1 OR contype = 'p' OR %(all)s) "
                "UNION ALL "
                "SELECT conname, 'c', pg_get_constraintdef(oid), false, false "
                "FROM pg_constraint WHERE conrelid = to_regclass(%(table)s) "
                "AND contype = 'c' AND (cardinality(conkey) > 1 OR %(all)s) "
                "AND (SELECT attnum FROM source) = ANY(conkey) "
                "ORDER BY 1",
                {
                    "table": self.quoted_table,
                    "source": self.source_column,
                    "all": self.copy_all,
                },
            )
            rows = cursor.fetchall()
            # As the definitions write them: quoted only where needed.
            cursor.execute(
                "SELECT quote_ident(%s), quote_ident(%s)",
                [self.source_column, str(self.target.column)],
            )
            source_identifier, target = cursor.fetchone()
        source = re.compile(rf"(?<![\w$\"]){re.escape(source_identifier)}(?![\w$\"])")
        structures = []
        for name, kind, definition, unique, deferred in rows:
            if name.endswith(_PROVISIONAL_SUFFIX):
                continue
            if kind != "c":
                # The columns and method, after the index's name and table.
                definition = definition.split(" USING ", 1)[1]
            definition = source.sub(target, definition)
            structures.append(_Structure(name, kind, definition, unique, deferred))
        return structures

    def copy_structures(self) -> None:
        """Give the target copies of the structures ``_copied_structures``
        returns, under provisional names, without blocking writes; keep those
        it has.

        A copy of a structure on two columns that both get a target goes
        with the other's source column: finishing builds it again.
        """
        for structure in self._copied_structures():
            copy = self._copy_name(structure.name)
            quoted = self.schema_editor.quote_name(copy)
            if structure.kind == "c":
                postgresql.add_constraint_not_valid(
                    self.schema_editor,
                    self.table,
                    copy,
                    f"ALTER TABLE {self.quoted_table} ADD CONSTRAINT {quoted} "
                    f"{structure.definition}",
                )
                continue
            unique = "UNIQUE " if structure.unique else ""
            postgresql.create_index_concurrently(
                self.schema_editor,
                copy,
                f"CREATE {unique}INDEX {quoted} ON {self.quoted_table} "
                f"USING {structure.definition}",
            )

    def _copy_name(self, name: str) -> str:
        """Return the provisional name of the target's copy of ``name``; the
        copies of one structure for two targets differ."""
        return self._provisional_name(f"{name}_{self.target.column}")

    def _copies_taking_names(self, copies: list[_Structure]) -> list[str]:
        """Return the statements that give the copies ``copy_structures``
        made the names of the structures they copy, once these are gone."""
        quote = self.schema_editor.quote_name
        statements = []
        for structure in copies:
            name = quote(structure.name)
            copy = quote(self._copy_name(structure.name))
            if structure.kind == "i":
                statements.append(f"ALTER INDEX {copy} RENAME TO {name}")
            elif structure.kind == "c":
                statements.append(
                    f"ALTER TABLE {self.quoted_table} RENAME CONSTRAINT {copy} "
                    f"TO {name}"
                )
            else:
                constraint = "PRIMARY KEY" if structure.kind == "p" else "UNIQUE"
                options = " DEFERRABLE INITIALLY DEFERRED" if structure.deferred else ""
                statements.append(
                    f"ALTER TABLE {self.quoted_table} ADD CONSTRAINT {name} "
                    f"{constraint} USING INDEX {copy}{options}"
                )
        return statements

    def _execute(self, *statements: str) -> None:
        _execute_together(self.schema_editor, statements)

    def _add_column_sql(self) -> str:
        connection = self.schema_editor.connection
        definition = self.target.db_type(connection)
        collation = self.target.db_parameters(connection).get("collation")
        if collation:
            definition += f" {compat.collate_sql(self.schema_editor, collation)}"
        # NULLable, without default nor constraints: the trigger fills it
        # for the writes of the deployed code, the backfill for the rows.
        return (
            f"ALTER TABLE {self.quoted_table} "
            f"ADD COLUMN IF NOT EXISTS {self.column} {definition} NULL"
        )

    def _sync_sql(self) -> str:
        source, target = f"NEW.{self.source}", f"NEW.{self.column}"
        to_target = _converted(self.to_target, source)
        to_source = _converted(self.to_source, target)
        # A row inserted with a value in the target column comes from code
        # that uses it; a row updated has its value in the column that
        # changed. The backfill changes the target alone, to the source's
        # value: nothing to copy back.
        return (
            f"CREATE OR REPLACE FUNCTION {self.trigger}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"  IF TG_OP = 'INSERT' THEN\n"
            f"    IF {target} IS NULL THEN {target} := {to_target};\n"
            f"    ELSE {source} := {to_source};\n"
            f"    END IF;\n"
            f"  ELSIF {source} IS DISTINCT FROM OLD.{self.source} THEN\n"
            f"    {target} := {to_target};\n"
            f"  ELSIF {target} IS DISTINCT FROM OLD.{self.column}\n"
            f"      AND {target} IS DISTINCT FROM {to_target} THEN\n"
            f"    {source} := {to_source};\n"
            f"  END IF;\n"
            f"  RETURN NEW;\nEND\n$$;\n"
            f"DROP TRIGGER IF EXISTS {self.trigger} ON {self.quoted_table};\n"
            f"CREATE TRIGGER {self.trigger} BEFORE INSERT OR UPDATE "
            f"ON {self.quoted_table} FOR EACH ROW EXECUTE FUNCTION {self.trigger}()"
        )


def _execute_together(
    schema_editor: BaseDatabaseSchemaEditor, statements: Sequence[str]
) -> None:
    """Run ``statements`` as one statement: no query sees what is between
    them. In a non-atomic migration it is a transaction of its own, whose
    lock waits ``migrate`` bounds, and runs again if they time out;
    ``sqlmigrate`` shows it so."""
    own_transaction = schema_editor.collect_sql and not schema_editor.atomic_migration
    if own_transaction:
        bounds = set_local_statements(conf.lock_policy())
        schema_editor.collected_sql += ["BEGIN;", *(f"{each};" for each in bounds)]
    schema_editor.execute(";\n".join(statements), params=None)
    if own_transaction:
        schema_editor.collected_sql.append("COMMIT;")


def _converted(conversion: str, value: str) -> str:
    """Return the SQL expression of ``conversion`` applied to ``value``."""
    return conversion.replace(COLUMN_PLACEHOLDER, value)


def _field(model: type[models.Model], name: str) -> AnyField:
    return cast(AnyField, model._meta.get_field(name))


def _check_name(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: AnyField
) -> str:
    """Return the name PostgreSQL gives a column's check in ``CREATE TABLE``,
    or, if that is too long, the one Django gives it in ``AlterField``."""
    table = model._meta.db_table
    return _fitting_name(
        schema_editor,
        f"{table}_{field.column}_check",
        table,
        str(field.column),
        "_check",
    )


def _fitting_name(
    schema_editor: BaseDatabaseSchemaEditor,
    name: str,
    table: str,
    column: str,
    suffix: str,
) -> str:
    """Return ``name`` if PostgreSQL takes it whole, else a shorter one made
    from ``table``, ``column`` and ``suffix`` as Django makes index names."""
    if len(name) <= (schema_editor.connection.ops.max_name_length() or len(name)):
        return name
    return compat.index_name(schema_editor, table, column, suffix)


def _copy_label(model: type[models.Model], name: str, back: bool = False) -> str:
    """Return the label of the progress of a copy to the new type, or back."""
    direction = "back to its old type" if back else "to its new type"
    return f"Copying {model._meta.label}.{name} {direction}"


def _shadow_column(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str
) -> str:
    """Return the name of the shadow column of ``column``."""
    return _fitting_name(
        schema_editor, f"{column}{_SHADOW_SUFFIX}", table, column, _SHADOW_SUFFIX
    )
