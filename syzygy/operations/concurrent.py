"""Lock-safe operations: on PostgreSQL they run outside of any transaction
(their migration has ``atomic = False``) and never scan a table while holding
a lock that blocks its reads and writes; elsewhere they do what the stock
operation does."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, cast

from django.db import NotSupportedError, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import strip_quotes
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .. import compat, fields, postgresql
from ..constants import Stage
from .staged import AlterField, AnyField


class OutsideTransaction(Operation):
    """An operation that is lock-safe on PostgreSQL in a non-atomic migration.

    On PostgreSQL, ``forwards`` and ``backwards`` do the work, for a model the
    database routers allow; elsewhere the stock operation does.
    """

    stage = Stage.PRE_DEPLOY
    model_name: str

    def lock_safe(self, schema_editor: BaseDatabaseSchemaEditor) -> bool:
        """Return whether to run the lock-safe way; refuse to run in a transaction.

        Raise ``NotSupportedError`` on PostgreSQL inside a transaction.
        """
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return False
        if connection.in_atomic_block:
            raise NotSupportedError(
                f"{self.__class__.__name__} can't run inside a transaction on "
                "PostgreSQL: set atomic = False on its migration."
            )
        return True

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(
            self.forwards,
            super().database_forwards,
            app_label,
            schema_editor,
            from_state,
            to_state,
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(
            self.backwards,
            super().database_backwards,
            app_label,
            schema_editor,
            from_state,
            to_state,
        )

    def _run(
        self,
        lock_safe_way: Callable[..., None],
        stock_way: Callable[..., None],
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Run the lock-safe way on PostgreSQL, for a model the routers allow;
        the stock way elsewhere."""
        if not self.lock_safe(schema_editor):
            stock_way(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            lock_safe_way(app_label, schema_editor, model, from_state, to_state)

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Apply the operation the lock-safe way on PostgreSQL."""
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Revert the operation the lock-safe way on PostgreSQL."""
        raise NotImplementedError  # pragma: no cover - every subclass defines it


class AddIndexConcurrently(OutsideTransaction, operations.AddIndex):
    """Add an index; on PostgreSQL ``CREATE INDEX CONCURRENTLY``.

    An INVALID index left by an interrupted build is dropped and rebuilt.
    """

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        sql = str(self.index.create_sql(model, schema_editor))
        postgresql.create_index_concurrently(schema_editor, self.index.name, sql)

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        postgresql.drop_index_concurrently(schema_editor, self.index.name)

    def describe(self) -> str:
        return f"{super().describe()} concurrently"


class RemoveIndexConcurrently(OutsideTransaction, operations.RemoveIndex):
    """Remove an index; on PostgreSQL ``DROP INDEX CONCURRENTLY``."""

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        postgresql.drop_index_concurrently(schema_editor, self.name)

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        index = to_state.models[app_label, self.model_name_lower].get_index_by_name(
            self.name
        )
        sql = str(index.create_sql(model, schema_editor))
        postgresql.create_index_concurrently(schema_editor, self.name, sql)

    def describe(self) -> str:
        return f"{super().describe()} concurrently"


class AddConstraintNotValid(OutsideTransaction, operations.AddConstraint):
    """Add a check or unique constraint without blocking reads and writes.

    On PostgreSQL a check constraint is added ``NOT VALID`` then validated;
    a unique constraint is built as a unique index ``CONCURRENTLY``, then
    attached with ``ADD CONSTRAINT ... UNIQUE USING INDEX``. Going backwards
    is as ``AddConstraint`` does it.
    """

    constraint: models.CheckConstraint | models.UniqueConstraint

    def __init__(self, model_name: str, constraint: models.BaseConstraint) -> None:
        if not isinstance(
            constraint, (models.CheckConstraint, models.UniqueConstraint)
        ):
            raise TypeError(
                f"AddConstraintNotValid adds check and unique constraints, not "
                f"{type(constraint).__name__} {constraint.name!r}: use "
                "migrations.AddConstraint for it."
            )
        super().__init__(model_name, constraint)

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        constraint = self.constraint
        table = model._meta.db_table
        statement = str(constraint.create_sql(model, schema_editor))
        if isinstance(constraint, models.CheckConstraint):
            postgresql.add_constraint_not_valid(
                schema_editor, table, constraint.name, statement
            )
        elif statement.startswith("CREATE UNIQUE INDEX"):
            # Conditions, expressions and included columns make a unique index.
            postgresql.create_index_concurrently(
                schema_editor, constraint.name, statement, constraint=constraint.name
            )
        else:
            postgresql.add_unique_constraint_using_index(
                schema_editor,
                table,
                constraint.name,
                _unique_index_sql(schema_editor, model, constraint),
                _deferrable_sql(constraint.deferrable),
            )

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        schema_editor.remove_constraint(model, self.constraint)

    def describe(self) -> str:
        return f"{super().describe()} without blocking writes"


def _unique_index_sql(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    constraint: models.UniqueConstraint,
) -> str:
    """Return the ``CREATE UNIQUE INDEX`` a plain unique constraint can use."""
    index = models.Index(fields=list(constraint.fields), name=constraint.name)
    statement = str(index.create_sql(model, schema_editor))
    statement = statement.replace("CREATE INDEX", "CREATE UNIQUE INDEX", 1)
    if constraint.nulls_distinct is False:
        statement += " NULLS NOT DISTINCT"
    return statement


def _deferrable_sql(deferrable: models.Deferrable | None) -> str:
    if deferrable is None:
        return ""
    return f" DEFERRABLE INITIALLY {deferrable.name}"


class AlterFieldConcurrently(OutsideTransaction, AlterField):
    """Alter a field, adding its NOT NULL, index, unique and foreign key
    constraints without blocking reads and writes on PostgreSQL.

    Any other change is made as ``AlterField`` makes it, first. Going
    backwards is ``AlterField``'s: dropping constraints is quick.
    """

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        stage: Stage = Stage.PRE_DEPLOY,
        preserve_default: bool = True,
    ) -> None:
        super().__init__(model_name, name, field, stage, preserve_default)

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        if kwargs["stage"] is Stage.PRE_DEPLOY:
            del kwargs["stage"]
        return name, args, kwargs

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        from_model = from_state.apps.get_model(app_label, self.model_name)
        old_field = from_model._meta.get_field(self.name)
        new_field = cast(AnyField, model._meta.get_field(self.name))
        if not self.preserve_default:
            # The one-off default for existing rows, as AlterField uses it.
            new_field.default = self.field.default
        self.before_constraints(schema_editor, model, old_field, new_field)
        unconstrained = _without_added_constraints(new_field, old_field)
        schema_editor.alter_field(from_model, old_field, unconstrained)
        _add_constraints(schema_editor, model, unconstrained, new_field)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        # Django's AlterField goes backwards by going forwards between the
        # states the other way round; dropping constraints needs no care.
        operations.AlterField.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def before_constraints(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        old_field: AnyField,
        new_field: AnyField,
    ) -> None:
        """Prepare the rows before the constraints are added.

        Rows left NULL get the default, as ``AlterField`` gives them.
        """
        default = schema_editor.effective_default(new_field)
        if old_field.null and not new_field.null and default is not None:
            quote = schema_editor.quote_name
            column = quote(str(new_field.column))
            schema_editor.execute(
                f"UPDATE {quote(model._meta.db_table)} SET {column} = %s "
                f"WHERE {column} IS NULL",
                [default],
            )

    def describe(self) -> str:
        return (
            f"Alter field {self.name} on {self.model_name} without blocking writes"
            f" ({self.stage.label})"
        )


def _without_added_constraints(field: AnyField, old_field: AnyField) -> AnyField:
    """Return ``field`` without the NOT NULL, index, unique and foreign key
    constraints it adds to ``old_field``; those it drops stay dropped."""
    added = fields.added_constraints(old_field, field)
    unconstrained = copy.copy(field)
    if fields.NOT_NULL in added:
        unconstrained.null = True
    if fields.INDEX in added or fields.UNIQUE in added:
        unconstrained.db_index = old_field.db_index  # type: ignore[attr-defined]
    if fields.UNIQUE in added:
        unconstrained._unique = False  # type: ignore[attr-defined]
        # Field.unique is a cached property, maybe cached by the copy.
        unconstrained.__dict__.pop("unique", None)
    if fields.FOREIGN_KEY in added:
        unconstrained.db_constraint = False  # type: ignore[attr-defined]
    return unconstrained


def _add_constraints(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    old_field: AnyField | None,
    new_field: AnyField,
    named: Callable[[str], str] = str,
) -> None:
    """Add the constraints ``new_field`` has and ``old_field`` lacks (all of
    them, for a new column: ``None``), lock-safe.

    Each gets the name ``named`` returns for the one Django gives it.
    """
    table = model._meta.db_table
    column = str(new_field.column)
    quote = schema_editor.quote_name
    added = fields.added_constraints(old_field, new_field)
    if fields.NOT_NULL in added:
        check = compat.index_name(schema_editor, table, column, "_notnull")
        postgresql.set_not_null(schema_editor, table, column, named(check))
    if fields.FOREIGN_KEY in added:
        foreign_key = compat.foreign_key_statement(schema_editor, model, new_field)
        name = _rename(foreign_key, named, quote)
        postgresql.add_constraint_not_valid(
            schema_editor, table, name, str(foreign_key)
        )
    if fields.UNIQUE in added:
        name = named(_name(compat.unique_statement(schema_editor, model, new_field)))
        postgresql.add_unique_constraint_using_index(
            schema_editor,
            table,
            name,
            f"CREATE UNIQUE INDEX {quote(name)} ON {quote(table)} ({quote(column)})",
        )
    existing = {
        _name(statement)
        for statement in (
            compat.field_index_statements(schema_editor, model, old_field)
            if old_field is not None
            else []
        )
    }
    for statement in compat.field_index_statements(schema_editor, model, new_field):
        if _name(statement) not in existing:
            name = _rename(statement, named, quote)
            postgresql.create_index_concurrently(schema_editor, name, str(statement))


def _rename(
    statement: Any, named: Callable[[str], str], quote: Callable[[str], str]
) -> str:
    """Give what ``statement`` creates the name ``named`` returns; return it."""
    name = named(_name(statement))
    statement.parts["name"] = quote(name)
    return name


def _name(statement: Any) -> str:
    """Return the unquoted name of what a schema editor's statement creates."""
    return strip_quotes(str(statement.parts["name"]))
