"""A column renamed without downtime: an expand step, then a contract step.

On PostgreSQL the pre-deploy ``ExpandRenameField`` adds the new column and a
trigger that keeps it equal to the old one, whichever side writes, copies
the existing values over in batches, then adds the new column's NOT NULL,
indexes and constraints without blocking writes. Code deployed before the
rename uses the old column, the new code the new one, and each sees the
other's writes. The post-deploy ``ContractRenameField`` drops the trigger
and the old column, and gives the new column's indexes and constraints the
names the old one's had, as ``RenameField`` leaves them. Elsewhere the
expand step renames the column as ``RenameField`` does, and the contract
step does nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, cast

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.state import ProjectState

from .. import batches, compat, conf, fields, postgresql
from ..constants import Stage
from ..executor import deploy_output
from ..locks import set_local_statements
from .backfill import _Backfill
from .concurrent import OutsideTransaction, _add_constraints, _name
from .staged import AnyField


class ExpandRenameField(OutsideTransaction, operations.RenameField):
    """Rename a field; on PostgreSQL, its column stays until
    ``ContractRenameField``, kept in sync with the new one."""

    stage = Stage.PRE_DEPLOY

    def __init__(self, model_name: str, old_name: str, new_name: str) -> None:
        super().__init__(model_name, old_name, new_name)

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        from_model = from_state.apps.get_model(app_label, self.model_name)
        source = _field(from_model, self.old_name)
        target = _field(model, self.new_name)
        columns = _SyncedColumns(schema_editor, model, str(source.column), target)
        columns.expand(
            f"Copying {model._meta.label}.{self.old_name} to {self.new_name}"
        )

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        from_model = from_state.apps.get_model(app_label, self.model_name)
        dropped = _field(from_model, self.new_name)
        kept = _field(model, self.old_name)
        _SyncedColumns(schema_editor, model, str(dropped.column), kept).finish()

    def describe(self) -> str:
        return (
            f"Rename field {self.old_name} on {self.model_name} to {self.new_name}, "
            f"keeping the old column in sync until the contract step (pre-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"{super().migration_name_fragment}_expand"

    def reduce(self, operation: Operation, app_label: str) -> bool | list[Operation]:
        # Not RenameField's: merged into another rename, the old column
        # would go at once.
        return super(operations.RenameField, self).reduce(operation, app_label)


class _StateUnchanged(Operation):
    """An operation that changes nothing in the migration state, nor on
    databases other than PostgreSQL."""

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass

    database_backwards = database_forwards


class ContractRenameField(OutsideTransaction, _StateUnchanged):
    """Drop the column of a field renamed by ``ExpandRenameField``, once no
    code using it is left; going backwards, expand again."""

    stage = Stage.POST_DEPLOY
    # django-stubs types the members of OperationCategory as str.
    category = OperationCategory.REMOVAL  # type: ignore[assignment]

    def __init__(self, model_name: str, old_name: str, new_name: str) -> None:
        self.model_name = model_name
        self.old_name = old_name
        self.new_name = new_name

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "model_name": self.model_name,
                "old_name": self.old_name,
                "new_name": self.new_name,
            },
        )

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def references_model(self, name: str, app_label: str) -> bool:
        return name.lower() == self.model_name_lower

    def references_field(self, model_name: str, name: str, app_label: str) -> bool:
        return self.references_model(model_name, app_label) and name.lower() in {
            self.old_name.lower(),
            self.new_name.lower(),
        }

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        kept = _field(model, self.new_name)
        old_column = fields.column_name(kept, self.old_name)
        _SyncedColumns(schema_editor, model, old_column, kept).finish()

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        kept = _field(model, self.new_name)
        restored = self._old_field(app_label, to_state)
        columns = _SyncedColumns(
            schema_editor, restored.model, str(kept.column), restored
        )
        columns.expand(
            f"Copying {model._meta.label}.{self.new_name} back to {self.old_name}",
        )

    def _old_field(self, app_label: str, state: ProjectState) -> AnyField:
        """Return the field as it was before the rename, on a model of its own."""
        renamed = state.clone()
        operations.RenameField(
            self.model_name, self.new_name, self.old_name
        ).state_forwards(app_label, renamed)
        return _field(renamed.apps.get_model(app_label, self.model_name), self.old_name)

    def describe(self) -> str:
        return (
            f"Drop the old column of field {self.new_name} on {self.model_name}, "
            f"renamed from {self.old_name} (post-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return (
            f"rename_{self.old_name.lower()}_{self.model_name_lower}_"
            f"{self.new_name.lower()}_contract"
        )


# Ends the names of the indexes and constraints an expand step builds.
_PROVISIONAL_SUFFIX = "_syzygy"


class _SyncedColumns:
    """A column kept equal to another of its table by a trigger, on PostgreSQL.

    ``source_column`` is the column the rows have; the column of ``target``
    is the one added beside it, or kept when the other is dropped.
    """

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        source_column: str,
        target: Any,
    ) -> None:
        self.schema_editor = schema_editor
        self.model = model
        self.target = target
        quote = schema_editor.quote_name
        self.table = model._meta.db_table
        self.quoted_table = quote(self.table)
        self.source_column = source_column
        self.source = quote(source_column)
        self.column = quote(str(target.column))
        # One name for both directions: each step drops what another made.
        first, second = sorted([source_column, str(target.column)])
        name = compat.index_name(
            schema_editor, self.table, f"{first}_{second}", "_sync"
        )
        self.trigger = quote(name)
        self.function = quote(name)

    def expand(self, label: str) -> None:
        """Add the target column in sync with the source one, fill it, then
        give it its NOT NULL, indexes and constraints.

        These get provisional names, free whatever the source's are:
        ``finish`` renames them.
        """
        self._execute(self._add_column_sql(), self._sync_sql())
        backfill = _Backfill(
            self.schema_editor, self.model, self.target, self.source_column
        )
        if self.schema_editor.collect_sql:
            self.schema_editor.collected_sql.append(
                f"-- Copy {self.source} to {self.column} where it is NULL, in "
                f"batches, each a transaction of its own: {backfill.describe()}"
            )
        else:
            batches.walk_in_batches(
                backfill.batch,
                using=self.schema_editor.connection.alias,
                total=backfill.rows(),
                label=label,
                stream=deploy_output(),
            )
        named = self._provisional_name
        _add_constraints(
            self.schema_editor,
            self.model,
            _unconstrained(self.target),
            self.target,
            named,
        )
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

    def finish(self) -> None:
        """Drop the trigger and the source column, in one short transaction.

        The target column's indexes and constraints of provisional names
        take the names of the source's, and its foreign key the name Django
        gives it, as ``RenameField`` leaves them; it gets its database
        default.
        """
        renames = self._renames()
        if self.schema_editor.collect_sql and not renames:
            # sqlmigrate, before the expand step ran.
            self.schema_editor.collected_sql.append(
                f"-- The indexes and constraints of {self.column} the expand step "
                f"built take the names of those of {self.source}."
            )
        statements = [
            f"DROP TRIGGER IF EXISTS {self.trigger} ON {self.quoted_table}",
            f"DROP FUNCTION IF EXISTS {self.function}()",
            f"ALTER TABLE {self.quoted_table} DROP COLUMN IF EXISTS {self.source}",
            *renames,
        ]
        if self.target.has_db_default():
            sql, params = self.schema_editor.db_default_sql(self.target)
            default = sql % tuple(map(self.schema_editor.quote_value, params))
            statements.append(
                f"ALTER TABLE {self.quoted_table} ALTER COLUMN {self.column} "
                f"SET DEFAULT {default}"
            )
        self._execute(*statements)

    def _provisional_name(self, name: str) -> str:
        return compat.index_name(
            self.schema_editor, self.table, name, _PROVISIONAL_SUFFIX
        )

    def _renames(self) -> list[str]:
        """Return the statements that give the target's indexes and
        constraints their final names."""
        quote = self.schema_editor.quote_name
        source: dict[tuple[str, str], list[str]] = {}
        target: list[tuple[str, str, str]] = []
        for name, column, kind, signature in self._structures():
            if column == self.source_column:
                source.setdefault((kind, signature), []).append(name)
            else:
                target.append((name, kind, signature))
        statements = []
        for name, kind, signature in target:
            if not name.endswith(_PROVISIONAL_SUFFIX):
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

    def _execute(self, *statements: str) -> None:
        """Run ``statements`` in one transaction: ``migrate`` bounds its lock
        waits and runs it again if they time out."""
        editor = self.schema_editor
        if editor.collect_sql:
            bounds = set_local_statements(conf.lock_policy())
            editor.collected_sql += ["BEGIN;", *(f"{each};" for each in bounds)]
        editor.execute(";\n".join(statements), params=None)
        if editor.collect_sql:
            editor.collected_sql.append("COMMIT;")

    def _add_column_sql(self) -> str:
        connection = self.schema_editor.connection
        definition = self.target.db_type(connection)
        collation = self.target.db_parameters(connection).get("collation")
        if collation:
            definition += f" {self.schema_editor._collate_sql(collation)}"  # type: ignore[attr-defined]
        # NULLable, without default nor constraints: the trigger fills it
        # for the writes of the deployed code, the backfill for the rows.
        return (
            f"ALTER TABLE {self.quoted_table} "
            f"ADD COLUMN IF NOT EXISTS {self.column} {definition} NULL"
        )

    def _sync_sql(self) -> str:
        source, target = self.source, self.column
        # A row inserted with a value in the target column comes from code
        # that uses it; a row updated has its value in the column that
        # changed. The backfill changes the target alone, to the source's
        # value: nothing to copy back.
        return (
            f"CREATE OR REPLACE FUNCTION {self.function}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"  IF TG_OP = 'INSERT' THEN\n"
            f"    IF NEW.{target} IS NULL THEN NEW.{target} := NEW.{source};\n"
            f"    ELSE NEW.{source} := NEW.{target};\n"
            f"    END IF;\n"
            f"  ELSIF NEW.{source} IS DISTINCT FROM OLD.{source} THEN\n"
            f"    NEW.{target} := NEW.{source};\n"
            f"  ELSIF NEW.{target} IS DISTINCT FROM OLD.{target} THEN\n"
            f"    NEW.{source} := NEW.{target};\n"
            f"  END IF;\n"
            f"  RETURN NEW;\nEND\n$$;\n"
            f"DROP TRIGGER IF EXISTS {self.trigger} ON {self.quoted_table};\n"
            f"CREATE TRIGGER {self.trigger} BEFORE INSERT OR UPDATE "
            f"ON {self.quoted_table} FOR EACH ROW EXECUTE FUNCTION {self.function}()"
        )


def _field(model: type[models.Model], name: str) -> AnyField:
    return cast(AnyField, model._meta.get_field(name))


def _unconstrained(field: AnyField) -> AnyField:
    """Return a copy of ``field``, NULLable, without index nor constraint."""
    bare = copy.copy(field)
    bare.null = True
    bare.db_index = False  # type: ignore[attr-defined]
    bare._unique = False  # type: ignore[attr-defined]
    # Field.unique is a cached property, maybe cached by the copy.
    bare.__dict__.pop("unique", None)
    bare.db_constraint = False  # type: ignore[attr-defined]
    return bare


def _check_name(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: AnyField
) -> str:
    """Return the name PostgreSQL gives a column's check in ``CREATE TABLE``,
    or, if that is too long, the one Django gives it in ``AlterField``."""
    table = model._meta.db_table
    name = f"{table}_{field.column}_check"
    if len(name) <= (schema_editor.connection.ops.max_name_length() or len(name)):
        return name
    return compat.index_name(schema_editor, table, str(field.column), "_check")
