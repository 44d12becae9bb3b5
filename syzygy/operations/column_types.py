"""A column's type changed without rewriting the table under a lock: an
expand step, then a contract step.

On PostgreSQL the pre-deploy ``ExpandAlterField`` adds a shadow column of
the new type beside the column, kept equal to it by a trigger that casts
what either code writes, copies the existing values in batches, then builds
the shadow's NOT NULL, indexes and constraints without blocking writes.
Both releases keep using the column, of the old type, meanwhile. The
post-deploy ``ContractAlterField`` swaps the columns in one short,
catalogue-only transaction: the column is dropped, the shadow takes its
name, and its indexes and constraints the names the column's had, as
``AlterField`` leaves them. Elsewhere the contract step alters the field
as ``AlterField`` does, and the expand step does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import OperationCategory
from django.db.migrations.state import ProjectState

from ..constants import COLUMN_PLACEHOLDER, Stage
from .concurrent import OutsideTransaction
from .keys import _WidenedKey, is_key_change
from .staged import AnyField
from .synced import _copy_label, _field, _shadow_column, _StateUnchanged, _SyncedColumns

__all__ = ("ContractAlterField", "ExpandAlterField")


class _Converting:
    """An operation whose values are cast to the new type, or converted with
    SQL expressions: ``conversion`` from the old type to the new one,
    ``reverse_conversion`` back, ``{column}`` standing for the value."""

    conversion: str | None
    reverse_conversion: str | None

    def _set_conversions(
        self, conversion: str | None, reverse_conversion: str | None
    ) -> None:
        for option, expression in (
            ("conversion", conversion),
            ("reverse_conversion", reverse_conversion),
        ):
            if expression is not None and (
                not isinstance(expression, str) or COLUMN_PLACEHOLDER not in expression
            ):
                raise ValueError(
                    f"{type(self).__name__}'s {option} is {expression!r}; it must "
                    f"be an SQL expression with {COLUMN_PLACEHOLDER} for the value "
                    f"to convert, such as \"NULLIF({COLUMN_PLACEHOLDER}, '')::"
                    f'integer".'
                )
        self.conversion = conversion
        self.reverse_conversion = reverse_conversion

    def _conversion_kwargs(self) -> dict[str, str]:
        return {
            option: expression
            for option, expression in (
                ("conversion", self.conversion),
                ("reverse_conversion", self.reverse_conversion),
            )
            if expression is not None
        }


class ExpandAlterField(_Converting, OutsideTransaction, _StateUnchanged):
    """Prepare the change of a field's type: on PostgreSQL, a shadow column
    of the new type, kept in sync, for ``ContractAlterField`` to swap in.

    The migration state doesn't change until the contract step.
    """

    stage = Stage.PRE_DEPLOY
    # django-stubs types the members of OperationCategory as str.
    category = OperationCategory.ADDITION  # type: ignore[assignment]

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        conversion: str | None = None,
        reverse_conversion: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.name = name
        self.field = field
        self._set_conversions(conversion, reverse_conversion)

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "model_name": self.model_name,
                "name": self.name,
                "field": self.field,
                **self._conversion_kwargs(),
            },
        )

    def references(self) -> list[tuple[str, str | None]]:
        return [(self.model_name, self.name)]

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        _shadowing(
            schema_editor, model, self.name, self.field, conversion=self.conversion
        ).expand(_copy_label(model, self.name))

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        _shadowing(schema_editor, model, self.name, self.field).drop()

    def describe(self) -> str:
        if self.field.primary_key:
            return (
                f"Add columns of the new type to the key {self.name} of "
                f"{self.model_name} and to every column referencing it, in sync "
                f"until the contract step (pre-deploy)"
            )
        return (
            f"Add a column of the new type of field {self.name} on "
            f"{self.model_name}, in sync until the contract step (pre-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"alter_{self.model_name.lower()}_{self.name.lower()}_expand"


class ContractAlterField(_Converting, OutsideTransaction, operations.AlterField):
    """Alter a field; on PostgreSQL, swap in the column of the new type that
    ``ExpandAlterField`` filled, instead of rewriting the table.

    Going backwards changes the type back the same way, in one step.
    """

    stage = Stage.POST_DEPLOY

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        preserve_default: bool = True,
        conversion: str | None = None,
        reverse_conversion: str | None = None,
    ) -> None:
        super().__init__(model_name, name, field, preserve_default)
        self._set_conversions(conversion, reverse_conversion)

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, **self._conversion_kwargs()}

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._swap(schema_editor, app_label, model, from_state, backwards=False)

    def backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._swap(schema_editor, app_label, model, from_state, backwards=True)

    def _swap(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        app_label: str,
        model: type[models.Model],
        from_state: ProjectState,
        backwards: bool,
    ) -> None:
        """Give the column the type of the field of ``model``; it has the
        type of the field in ``from_state``."""
        field = _field(model, self.name)
        from_model = from_state.apps.get_model(app_label, self.model_name)
        columns = _shadowing(
            schema_editor,
            model,
            self.name,
            field,
            _field(from_model, self.name),
            self.reverse_conversion if backwards else self.conversion,
        )
        # sqlmigrate shows forwards what follows the expand step.
        collecting = schema_editor.collect_sql
        if backwards if collecting else not columns.has_target():
            columns.expand(_copy_label(model, self.name, back=backwards))
        columns.finish(rename_to=str(field.column))

    def describe(self) -> str:
        columns = (
            "the columns of the new type, the key's and those referencing it"
            if self.field.primary_key
            else "the column of the new type"
        )
        return (
            f"Alter field {self.name} on {self.model_name}: swap in {columns} "
            "(post-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"alter_{self.model_name_lower}_{self.name.lower()}_contract"


def _shadowing(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    name: str,
    field: AnyField,
    current: AnyField | None = None,
    conversion: str | None = None,
) -> _SyncedColumns | _WidenedKey:
    """Return the column of the field ``name`` of ``model``, synced with a
    shadow column for ``field``, with its values converted by
    ``conversion``, if given; ``current`` is the field the column is of, if
    not the model's."""
    current = current or _field(model, name)
    if is_key_change(field, current):
        return _WidenedKey(schema_editor, model, field, current)
    column = str(current.column)
    target = field.clone()
    target.set_attributes_from_name(name)
    target.model = model
    target.column = _shadow_column(schema_editor, model._meta.db_table, column)
    return _SyncedColumns(
        schema_editor,
        model,
        column,
        target,
        source_type=current.db_type(schema_editor.connection),
        conversion=conversion,
    )
