"""Public migration operations.

Migration files written by django-syzygy 1.x import these names from this
module (``syzygy.operations.AddField(...)``), so their paths and signatures
are frozen.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, cast

from django.db import NotSupportedError, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import strip_quotes
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

from . import batches, compat, fields, postgresql
from .constants import Stage
from .executor import deploy_output
from .plan import operation_stage

__all__ = (
    "AddConstraintNotValid",
    "AddField",
    "AddIndexConcurrently",
    "AlterField",
    "AlterFieldConcurrently",
    "BackfillField",
    "PostAddField",
    "PreRemoveField",
    "RemoveIndexConcurrently",
    "RenameField",
    "RenameModel",
    "RenameModelInState",
)

AnyField: TypeAlias = "models.Field[Any, Any]"


def _database_default(field: AnyField) -> Any:
    """Return the value of ``field``'s default as the database should store it."""
    if field.is_relation:
        # ForeignKey.get_default() needs the related model resolved, which
        # a field of a migration file isn't.
        default = models.Field.get_default(field)
        if isinstance(default, models.Model):
            default = getattr(default, field.to_fields[0] or "pk")  # type: ignore[attr-defined]
        return default
    return compat.effective_default(field)


def _with_database_default(field: AnyField) -> AnyField:
    if field.has_db_default():
        return field
    default = _database_default(field)
    if default is None:
        return field
    return fields.rebuilt(field, db_default=default)


class _StagedOperation(Operation):
    """An operation that carries an explicit stage."""

    stage: Stage

    def describe(self) -> str:
        return f"{super().describe()} ({self.stage.label})"

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, "stage": self.stage}

    def reduce(self, operation: Operation, app_label: str) -> bool | list[Operation]:
        reduced = super().reduce(operation, app_label)
        # Merging with an operation of the other stage would change when it
        # runs; moving across one that doesn't touch the same thing is fine.
        if isinstance(reduced, list) and operation_stage(operation) is not self.stage:
            return False
        return reduced


class AlterField(_StagedOperation, operations.AlterField):
    """``AlterField`` with an explicit stage."""

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        stage: Stage,
        preserve_default: bool = True,
    ) -> None:
        super().__init__(model_name, name, field, preserve_default)
        self.stage = Stage(stage)

    # django-syzygy 1.x let the name fragment of its AlterField be set.
    _name_fragment: str | None = None

    @property
    def migration_name_fragment(self) -> str:
        return self._name_fragment or self.default_name_fragment()

    @migration_name_fragment.setter
    def migration_name_fragment(self, fragment: str) -> None:
        self._name_fragment = fragment

    def default_name_fragment(self) -> str:
        """Return the name fragment of the migration, unless one is set."""
        return str(super().migration_name_fragment)


class RenameField(_StagedOperation, operations.RenameField):
    """``RenameField`` with an explicit stage, for when renaming is known to be safe."""

    def __init__(
        self, model_name: str, old_name: str, new_name: str, stage: Stage
    ) -> None:
        super().__init__(model_name, old_name, new_name)
        self.stage = Stage(stage)


class RenameModel(_StagedOperation, operations.RenameModel):
    """``RenameModel`` with an explicit stage, for when renaming is known to be safe."""

    def __init__(self, old_name: str, new_name: str, stage: Stage) -> None:
        super().__init__(old_name, new_name)
        self.stage = Stage(stage)


class RenameModelInState(operations.RenameModel):
    """Rename a model in the migration state only: its table stays, and so
    do the foreign keys and many-to-many tables that point to it.

    ``db_table``, if given, is the table the renamed model names in its
    ``Meta``: the one it had. ``makemigrations`` writes this operation for a
    model renamed on its table; on the database it does nothing, where
    ``RenameModel`` would re-create every foreign key to the model.
    """

    def __init__(self, old_name: str, new_name: str, db_table: str | None = None):
        super().__init__(old_name, new_name)
        self.db_table = db_table

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        if self.db_table is not None:
            kwargs["db_table"] = self.db_table
        return name, args, kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        super().state_forwards(app_label, state)
        if self.db_table is not None:
            state.alter_model_options(
                app_label, self.new_name_lower, {"db_table": self.db_table}
            )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Do nothing: the table stays."""

    database_backwards = database_forwards

    def reduce(self, operation: Operation, app_label: str) -> bool | list[Operation]:
        # Not RenameModel's: merged into a RenameModel, it would touch the
        # database.
        return super(operations.RenameModel, self).reduce(operation, app_label)

    def describe(self) -> str:
        return f"Rename model {self.old_name} to {self.new_name}, keeping its table"


class AddField(operations.AddField):
    """Add a field whose column keeps a database default.

    Code deployed before the field existed inserts rows without it; the
    database default fills it in until ``PostAddField`` drops the default.
    """

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        preserve_default: bool = True,
    ) -> None:
        self.declared_field = field
        super().__init__(
            model_name, name, _with_database_default(field), preserve_default
        )

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, "field": self.declared_field}


class _DeclaredFieldAlteration(AlterField):
    """An ``AlterField`` of fixed stage that derives its field from a declared one.

    It deconstructs to the declared field, as the migration file wrote it.
    """

    fixed_stage: Stage

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        preserve_default: bool = True,
    ) -> None:
        self.declared_field = field
        super().__init__(
            model_name,
            name,
            self.altered_field(field),
            stage=self.fixed_stage,
            preserve_default=preserve_default,
        )

    @staticmethod
    def altered_field(field: AnyField) -> AnyField:
        """Return the field the column gets, derived from the declared one."""
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        del kwargs["stage"]
        return name, args, {**kwargs, "field": self.declared_field}


class PostAddField(_DeclaredFieldAlteration):
    """Drop the database default ``AddField`` kept, once no old code is left."""

    fixed_stage = Stage.POST_DEPLOY

    @staticmethod
    def altered_field(field: AnyField) -> AnyField:
        return fields.rebuilt(field, db_default=NOT_PROVIDED)

    def describe(self) -> str:
        return f"Drop database DEFAULT of field {self.name} on {self.model_name}"

    def default_name_fragment(self) -> str:
        return f"drop_db_default_{self.model_name_lower}_{self.name_lower}"


class PreRemoveField(_DeclaredFieldAlteration):
    """Let code deployed before a field's removal keep inserting rows.

    The column gets a database default if the field has a default, else it
    becomes NULLable; a post-deploy ``RemoveField`` drops it later.
    """

    fixed_stage = Stage.PRE_DEPLOY

    @staticmethod
    def altered_field(field: AnyField) -> AnyField:
        if field.has_db_default() or field.has_default():
            return _with_database_default(field)
        return fields.rebuilt(field, null=True)

    @property
    def _sets_default(self) -> bool:
        return bool(self.field.has_db_default())

    def describe(self) -> str:
        if self._sets_default:
            return f"Set database DEFAULT of field {self.name} on {self.model_name}"
        return f"Set field {self.name} of {self.model_name} NULLable"

    def default_name_fragment(self) -> str:
        action = "set_db_default" if self._sets_default else "set_nullable"
        return f"{action}_{self.model_name_lower}_{self.name_lower}"

    def reduce(self, operation: Operation, app_label: str) -> bool | list[Operation]:
        # As in django-syzygy 1.x: optimized together, as when migrations are
        # squashed, the removal leaves nothing of the step that prepared it.
        if isinstance(
            operation, operations.RemoveField
        ) and self.is_same_field_operation(operation):
            return [operation]
        return super().reduce(operation, app_label)


# Lock-safe operations: on PostgreSQL they run outside of any transaction
# (their migration has ``atomic = False``) and never scan a table while
# holding a lock that blocks its reads and writes; elsewhere they do what the
# stock operation does.


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
    old_field: AnyField,
    new_field: AnyField,
) -> None:
    """Add the constraints ``new_field`` has and ``old_field`` lacks, lock-safe."""
    table = model._meta.db_table
    column = str(new_field.column)
    added = fields.added_constraints(old_field, new_field)
    if fields.NOT_NULL in added:
        check = compat.index_name(schema_editor, table, column, "_notnull")
        postgresql.set_not_null(schema_editor, table, column, check)
    if fields.FOREIGN_KEY in added:
        foreign_key = compat.foreign_key_statement(schema_editor, model, new_field)
        postgresql.add_constraint_not_valid(
            schema_editor, table, _name(foreign_key), str(foreign_key)
        )
    if fields.UNIQUE in added:
        name = _name(compat.unique_statement(schema_editor, model, new_field))
        quote = schema_editor.quote_name
        postgresql.add_unique_constraint_using_index(
            schema_editor,
            table,
            name,
            f"CREATE UNIQUE INDEX {quote(name)} ON {quote(table)} ({quote(column)})",
        )
    existing = {
        _name(statement)
        for statement in compat.field_index_statements(schema_editor, model, old_field)
    }
    for statement in compat.field_index_statements(schema_editor, model, new_field):
        name = _name(statement)
        if name not in existing:
            postgresql.create_index_concurrently(schema_editor, name, str(statement))


def _name(statement: Any) -> str:
    """Return the unquoted name of what a schema editor's statement creates."""
    return strip_quotes(str(statement.parts["name"]))


class BackfillField(AlterFieldConcurrently):
    """Fill a NULLable column row by row with its field's default, in batches,
    then make it NOT NULL without blocking reads and writes.

    Each row gets a value of its own (``uuid.uuid4``, ``timezone.now``...).
    Each batch is a short transaction of its own; an interrupted backfill
    resumes with the rows still NULL. Batches have ``batch_size`` rows, or,
    if it is ``None``, as many as fit in about ``batches.BATCH_SECONDS``.
    """

    stage = Stage.POST_DEPLOY

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        batch_size: int | None = None,
        pause: float = 0.0,
    ) -> None:
        self.batch_size = batch_size
        self.pause = pause
        super().__init__(model_name, name, field, stage=Stage.POST_DEPLOY)

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        del kwargs["stage"]
        if self.batch_size is not None:
            kwargs["batch_size"] = self.batch_size
        if self.pause:
            kwargs["pause"] = self.pause
        return name, args, kwargs

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            model = to_state.apps.get_model(app_label, self.model_name)
            if self.allow_migrate_model(schema_editor.connection.alias, model):
                field = model._meta.get_field(self.name)
                self.before_constraints(schema_editor, model, field, field)
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def before_constraints(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        old_field: AnyField,
        new_field: AnyField,
    ) -> None:
        field = new_field
        label = f"Backfilling {model._meta.label}.{field.name}"
        postgresql = schema_editor.connection.vendor == "postgresql"
        if schema_editor.collect_sql:
            if postgresql and self.batch_size is None:
                size = f"of about {batches.BATCH_SECONDS * 1000:g} ms"
            else:
                size = f"of {self.batch_size or batches.DEFAULT_BATCH_SIZE} rows"
            schema_editor.collected_sql.append(
                f"-- Fill {model._meta.db_table}.{field.column} where it is NULL, "
                f"row by row, in batches {size}, each a transaction of its own"
            )
            if postgresql:
                backfill = _Backfill(schema_editor, model, field)
                schema_editor.collected_sql.append(f"-- {backfill.describe()}")
            return
        if not postgresql:
            manager = model._base_manager.using(schema_editor.connection.alias)

            def fill(rows: list[models.Model]) -> None:
                for row in rows:
                    setattr(row, field.attname, field.get_default())
                manager.bulk_update(rows, [field.name])

            batches.run_in_batches(
                manager.filter(**{f"{field.attname}__isnull": True}).only("pk"),
                fill,
                batch_size=self.batch_size or batches.DEFAULT_BATCH_SIZE,
                pause=self.pause,
                label=label,
                stream=deploy_output(),
            )
            return
        backfill = _Backfill(schema_editor, model, field)
        # Walk the primary key; the UPDATE itself skips the rows already
        # filled, so the walk needs no index on the column and locks no row
        # it doesn't change.
        batches.walk_in_batches(
            backfill.batch,
            using=schema_editor.connection.alias,
            total=backfill.rows(),
            batch_size=self.batch_size,
            pause=self.pause,
            label=label,
            stream=deploy_output(),
        )

    def describe(self) -> str:
        return (
            f"Fill field {self.name} on {self.model_name} row by row, then make it "
            "NOT NULL"
        )

    def default_name_fragment(self) -> str:
        return f"backfill_{self.model_name_lower}_{self.name_lower}"


# Defaults PostgreSQL can compute for each row itself, as the Python callable
# would: no value crosses the network.
_DATABASE_DEFAULTS: dict[Callable[[], Any], str] = {uuid.uuid4: "gen_random_uuid()"}
# The most rows a batch sends values for.
_MAX_VALUES_ROWS = 10_000


class _Backfill:
    """The statements that fill a column's NULL values on PostgreSQL, a batch
    of rows at a time, by increasing primary key."""

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        field: AnyField,
    ) -> None:
        self.connection = schema_editor.connection
        self.field = field
        quote = schema_editor.quote_name
        primary_key = model._meta.pk
        assert primary_key is not None
        self.primary_key = primary_key
        self.table = quote(model._meta.db_table)
        self.column = quote(str(field.column))
        self.key = quote(str(primary_key.column))
        self.expression = _DATABASE_DEFAULTS.get(field.default)

    def rows(self) -> int:
        """Return how many rows the table has."""
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table}")
            (count,) = cursor.fetchone()
        return int(count)

    def batch(self, after: Any, size: int) -> tuple[Any, int]:
        """Fill the ``size`` rows after the key ``after``; return the last
        key and the number of rows."""
        with self.connection.cursor() as cursor:
            if self.expression is None:
                return self._fill_from_values(cursor, after, size)
            cursor.execute(self._batch_sql(after), [*self._after(after), size])
            last, count = cursor.fetchone()
            if count:
                # Bounds the planner sees: it walks the primary key's index
                # from one to the other, whatever it knows of the column.
                cursor.execute(self._fill_sql(after), [*self._after(after), last])
            return last, count

    def describe(self) -> str:
        """Return the statements of a batch, for sqlmigrate."""
        if self.expression is not None:
            return f"{self._batch_sql(None)}; {self._fill_sql(None)}"
        return f"{self._batch_sql(None)}; {self._values_sql(1)}"

    def _after(self, after: Any) -> list[Any]:
        return [] if after is None else [after]

    def _batch_sql(self, after: Any) -> str:
        """Return the query of the keys of a batch, or of its last key and size
        if the database computes the values."""
        following = "" if after is None else f"WHERE {self.key} > %s "
        keys = (
            f"SELECT {self.key} FROM {self.table} {following}"
            f"ORDER BY {self.key} LIMIT %s"
        )
        if self.expression is None:
            return keys
        return f"SELECT max({self.key}), count(*) FROM ({keys}) AS batch"

    def _fill_sql(self, after: Any) -> str:
        following = "" if after is None else f"{self.key} > %s AND "
        return (
            f"UPDATE {self.table} SET {self.column} = {self.expression} "
            f"WHERE {following}{self.key} <= %s AND {self.column} IS NULL"
        )

    def _values_sql(self, rows: int) -> str:
        pk_type = self.primary_key.db_type(self.connection)
        value_type = self.field.db_type(self.connection)
        values = ", ".join([f"(%s::{pk_type}, %s::{value_type})"] * rows)
        # The key range lets the planner use the primary key's index.
        return (
            f"UPDATE {self.table} SET {self.column} = backfill.value "
            f"FROM (VALUES {values}) AS backfill (key, value) "
            f"WHERE {self.table}.{self.key} = backfill.key "
            f"AND {self.table}.{self.column} IS NULL "
            f"AND {self.table}.{self.key} BETWEEN %s AND %s"
        )

    def _fill_from_values(self, cursor: Any, after: Any, size: int) -> tuple[Any, int]:
        """Give each row of a batch its own default from Python, with one
        ``UPDATE ... FROM (VALUES ...)``.

        Much quicker than ``bulk_update``'s ``CASE``, which compares every row
        to every value of the batch.
        """
        # Two parameters a row: within what any driver binds.
        size = min(size, _MAX_VALUES_ROWS)
        cursor.execute(self._batch_sql(after), [*self._after(after), size])
        keys = [key for (key,) in cursor.fetchall()]
        if not keys:
            return None, 0
        params: list[Any] = []
        for key in keys:
            params.append(key)
            params.append(
                self.field.get_db_prep_save(self.field.get_default(), self.connection)
            )
        cursor.execute(self._values_sql(len(keys)), [*params, keys[0], keys[-1]])
        return keys[-1], len(keys)
