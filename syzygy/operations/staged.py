"""Operations with a stage, and the pre/post pairs of added and removed fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

from .. import compat, fields
from ..constants import Stage
from ..plan import operation_stage

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
