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

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.state import ProjectState

from .. import fields
from ..constants import Stage
from .concurrent import OutsideTransaction
from .staged import AnyField
from .synced import _execute_together, _field, _StateUnchanged, _SyncedColumns
from .tables import creating_view, dropping_view, renaming_back, renaming_with_view


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
        if target.many_to_many:
            # Its table is renamed, with a view under the old name.
            tables = _through_tables(source, target)
            if tables:
                _execute_together(
                    schema_editor, renaming_with_view(schema_editor, *tables)
                )
            return
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
        if kept.many_to_many:
            tables = _through_tables(kept, dropped)
            if tables:
                _execute_together(schema_editor, renaming_back(schema_editor, *tables))
            return
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

    def references(self) -> list[tuple[str, str | None]]:
        return [(self.model_name, self.old_name), (self.model_name, self.new_name)]

    def forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        kept = _field(model, self.new_name)
        if kept.many_to_many:
            tables = _through_tables(self._old_field(app_label, to_state), kept)
            if tables:
                schema_editor.execute(dropping_view(schema_editor, tables[0]))
            return
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
        if kept.many_to_many:
            tables = _through_tables(restored, kept)
            if tables:
                schema_editor.execute(creating_view(schema_editor, *tables))
            return
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
            f"rename_{self.old_name.lower()}_{self.model_name.lower()}_"
            f"{self.new_name.lower()}_contract"
        )


def _through_tables(old: AnyField, new: AnyField) -> tuple[str, str] | None:
    """Return the old and new names of the table of a many-to-many field
    renamed, if it is auto-created and its name changes."""
    old_through = old.remote_field.through  # type: ignore[union-attr]
    new_through = new.remote_field.through  # type: ignore[union-attr]
    if not new_through._meta.auto_created:
        return None
    tables = (old_through._meta.db_table, new_through._meta.db_table)
    return None if tables[0] == tables[1] else tables
