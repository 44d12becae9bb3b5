"""A table renamed without downtime: an expand step, then a contract step.

On PostgreSQL the pre-deploy ``ExpandAlterModelTable`` renames the table
(and the tables of its auto-created many-to-many relations) and leaves, under
each old name, a view of the renamed table: PostgreSQL reads and writes
through such a view as through the table, so the code deployed before the
rename keeps working with the old names, and the new code uses the new ones.
The post-deploy ``ContractAlterModelTable`` drops the views. Elsewhere the
expand step renames the tables as ``AlterModelTable`` does, and the contract
step does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import OperationCategory
from django.db.migrations.state import ProjectState

from ..constants import Stage
from .synced import _execute_together, _StateUnchanged

__all__ = ("ContractAlterModelTable", "ExpandAlterModelTable")


class ExpandAlterModelTable(operations.AlterModelTable):
    """Rename a model's table; on PostgreSQL, a view under the old name
    serves the code deployed before, until ``ContractAlterModelTable``."""

    stage = Stage.PRE_DEPLOY

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        for old, new in _renamed_tables(
            self, app_label, schema_editor, from_state, to_state
        ):
            # Together: even outside of a transaction, no query sees the old
            # name missing.
            _execute_together(
                schema_editor, renaming_with_view(schema_editor, old, new)
            )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        for new, old in _renamed_tables(
            self, app_label, schema_editor, from_state, to_state
        ):
            _execute_together(schema_editor, renaming_back(schema_editor, old, new))

    def describe(self) -> str:
        table = self.table if self.table is not None else "its default name"
        return (
            f"Rename table for {self.name} to {table}, keeping a view under the old "
            "name until the contract step (pre-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"{super().migration_name_fragment}_expand"

    def reduce(self, operation: Any, app_label: str) -> bool | list[Any]:
        # Not AlterModelTable's: merged into another rename of the table,
        # the view would be lost.
        return super(operations.AlterModelTable, self).reduce(operation, app_label)

    def references_field(self, model_name: str, name: str, app_label: str) -> bool:
        # The name of the table changes, not its fields: adding or removing
        # one may move across it.
        return False


class ContractAlterModelTable(_StateUnchanged):
    """Drop the views ``ExpandAlterModelTable`` left under the old names of
    a model's tables, once no code using them is left; going backwards,
    create them again."""

    stage = Stage.POST_DEPLOY
    # django-stubs types the members of OperationCategory as str.
    category = OperationCategory.REMOVAL  # type: ignore[assignment]

    def __init__(self, name: str, old_table: str) -> None:
        self.name = name
        self.old_table = old_table

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {"name": self.name, "old_table": self.old_table},
        )

    def references(self) -> list[tuple[str, str | None]]:
        return [(self.name, None)]

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for old, _ in self._tables(app_label, schema_editor, to_state):
            schema_editor.execute(dropping_view(schema_editor, old))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for old, new in self._tables(app_label, schema_editor, to_state):
            schema_editor.execute(creating_view(schema_editor, old, new))

    def _tables(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        state: ProjectState,
    ) -> Iterator[tuple[str, str]]:
        """Yield the old and new names of the tables renamed, ``state``
        having the new ones."""
        old_state = state.clone()
        operations.AlterModelTable(self.name, self.old_table).state_forwards(
            app_label, old_state
        )
        # The expand step renamed them from old_state to state.
        yield from _renamed_tables(self, app_label, schema_editor, old_state, state)

    def describe(self) -> str:
        return (
            f"Drop the view under the old name {self.old_table} of the table of "
            f"{self.name} (post-deploy)"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"alter_{self.name.lower()}_table_contract"


def renaming_with_view(
    schema_editor: BaseDatabaseSchemaEditor, old: str, new: str
) -> list[str]:
    """Return the statements that rename the table ``old`` to ``new`` and
    put a view of it under the old name."""
    quote = schema_editor.quote_name
    return [
        f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}",
        f"CREATE VIEW {quote(old)} AS SELECT * FROM {quote(new)}",
    ]


def renaming_back(
    schema_editor: BaseDatabaseSchemaEditor, old: str, new: str
) -> list[str]:
    """Return the statements that undo ``renaming_with_view``."""
    quote = schema_editor.quote_name
    return [
        dropping_view(schema_editor, old),
        f"ALTER TABLE {quote(new)} RENAME TO {quote(old)}",
    ]


def dropping_view(schema_editor: BaseDatabaseSchemaEditor, old: str) -> str:
    return f"DROP VIEW IF EXISTS {schema_editor.quote_name(old)}"


def creating_view(schema_editor: BaseDatabaseSchemaEditor, old: str, new: str) -> str:
    quote = schema_editor.quote_name
    return f"CREATE OR REPLACE VIEW {quote(old)} AS SELECT * FROM {quote(new)}"


def _renamed_tables(
    operation: Any,
    app_label: str,
    schema_editor: BaseDatabaseSchemaEditor,
    from_state: ProjectState,
    to_state: ProjectState,
) -> Iterator[tuple[str, str]]:
    """Yield the name in ``from_state`` and the name in ``to_state`` of each
    table of a model that differ: its own, and those of its auto-created
    many-to-many relations, as ``AlterModelTable`` renames them."""
    new_model = to_state.apps.get_model(app_label, operation.name)
    if not operation.allow_migrate_model(schema_editor.connection.alias, new_model):
        return
    old_model = from_state.apps.get_model(app_label, operation.name)
    pairs = [(old_model, new_model)] + [
        (old_field.remote_field.through, new_field.remote_field.through)
        for old_field, new_field in zip(
            old_model._meta.local_many_to_many,
            new_model._meta.local_many_to_many,
            strict=True,
        )
        if new_field.remote_field.through._meta.auto_created
    ]
    for old, new in pairs:
        if _table(old) != _table(new):
            yield _table(old), _table(new)


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table
