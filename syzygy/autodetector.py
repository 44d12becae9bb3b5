"""The stage-aware migration autodetector.

It splits changes that would break the code deployed during a rolling deploy
into a pre-deploy and a post-deploy migration, and asks its questioner when
it can't decide; it never prints nor exits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.autodetector import (
    MigrationAutodetector as DjangoMigrationAutodetector,
)
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.models import IndexOperation
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Now
from django.utils import timezone

from .constants import Stage
from .exceptions import AmbiguousStage
from .fields import (
    added_constraints,
    column_field,
    column_name,
    describe_column_type,
    has_foreign_key_constraint,
    has_index,
    has_volatile_default,
    rebuilt,
    rewrites_table,
    table_name,
    widens_type,
)
from .lint import REWRITE
from .operations import (
    AddConstraintNotValid,
    AddField,
    AddIndexConcurrently,
    AlterField,
    AlterFieldConcurrently,
    BackfillField,
    ContractAlterField,
    ContractAlterModelTable,
    ContractRenameField,
    ExpandAlterField,
    ExpandAlterModelTable,
    ExpandRenameField,
    OutsideTransaction,
    PostAddField,
    PreRemoveField,
    RemoveIndexConcurrently,
    RenameField,
    RenameModel,
    RenameModelInState,
)
from .plan import operation_stage, partition_operations
from .questioner import (
    CONVERT,
    EXPAND_CONTRACT,
    NULLABLE,
    StageQuestionerMixin,
    stage_questioner,
)
from .reviews import reviewed, reviews_of

__all__ = (
    "MakemigrationsAborted",
    "MigrationAutodetector",
    "StageAwareAutodetectorMixin",
)

# What a migration records when the user chose to write a table rewrite.
REWRITE_ANSWER = (
    "makemigrations asked, and the answer was to write it anyway: the table is "
    "small enough to be locked while it is rewritten."
)

# Operations of this pseudo-app only serve to make Django's migration
# builder cut an app's operations into a pre-deploy and a post-deploy
# migration; its migrations are dropped before anything is written.
STAGE_BOUNDARY_APP = "__syzygy_stage_boundary__"


class MakemigrationsAborted(Exception):
    """The user (or the non-interactive default) chose not to write migrations.

    The message says why and what to do instead.
    """


class _StageBoundary(Operation):
    """Stand between the pre-deploy and post-deploy operations of an app."""

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass  # pragma: no cover - never applied, dropped before writing


class _BoundaryDependency(NamedTuple):
    """A dependency on one given operation, of the boundary app or of a real one."""

    app_label: str
    operation: Operation


def _is_post_deploy(migration: Migration) -> bool:
    return all(
        operation_stage(operation) is Stage.POST_DEPLOY
        for operation in migration.operations
    )


def _needs_database_default(field: models.Field[Any, Any]) -> bool:
    """Return whether code unaware of ``field`` can't insert rows without help."""
    return not (
        field.null
        or field.many_to_many
        or field.has_db_default()
        # The database computes generated columns.
        or field.generated
    )


def _without_constraints(
    field: models.Field[Any, Any],
) -> models.Field[Any, Any] | None:
    """Return ``field`` without its index, unique and foreign key constraints,
    or ``None`` if it has none or they can't be left out."""
    if not (field.unique or has_index(field) or has_foreign_key_constraint(field)):
        return None
    # A one-to-one field is unique by definition.
    if field.one_to_one or field.primary_key:
        return None
    without: dict[str, Any] = {"db_index": False, "unique": False}
    if field.many_to_one:
        without["db_constraint"] = False
    return rebuilt(field, **without)


def _lock_safe(operation: Operation) -> Operation:
    """Return the lock-safe version of an operation on an existing table."""
    if type(operation) is operations.AddIndex:
        return AddIndexConcurrently(operation.model_name, operation.index)
    if type(operation) is operations.RemoveIndex:
        return RemoveIndexConcurrently(operation.model_name, operation.name)
    if type(operation) is operations.AddConstraint and isinstance(
        operation.constraint, (models.CheckConstraint, models.UniqueConstraint)
    ):
        return AddConstraintNotValid(operation.model_name, operation.constraint)
    return operation


def _is_volatile_default(field: models.Field[Any, Any]) -> bool:
    """Return whether ``field``'s default may differ from row to row."""
    return has_volatile_default(field) and not _is_timestamp_default(field)


def _is_timestamp_default(field: models.Field[Any, Any]) -> bool:
    if not isinstance(field, models.DateTimeField):
        return False
    return bool(field.auto_now or field.auto_now_add or field.default is timezone.now)


def _is_outside_transaction(operation: Operation) -> bool:
    return isinstance(operation, OutsideTransaction)


def _consecutive_runs(operations: list[Operation]) -> list[list[Operation]]:
    """Split operations where they go in or out of needing a transaction."""
    return [
        list(run)
        for _, run in itertools.groupby(operations, key=_is_outside_transaction)
    ]


def _can_cross(operation: Operation, earlier: Operation, app_label: str) -> bool:
    """Return whether ``operation`` may run before an ``earlier`` one."""
    if earlier.reduce(operation, app_label) is True:
        return True
    # Django's optimizer knows nothing of indexes and constraints, which only
    # touch the table of their model.
    if isinstance(operation, IndexOperation):
        return operation.model_name_lower != getattr(earlier, "model_name_lower", None)
    if isinstance(earlier, IndexOperation):
        return not operation.references_model(earlier.model_name_lower, app_label)
    return False


def _transaction_segments(
    operations: list[Operation], app_label: str
) -> list[list[Operation]]:
    """Split the operations of one stage into one migration per transaction mode.

    Those that must run outside of a transaction go last, in a non-atomic
    migration of their own, unless an operation that follows them can't be
    moved before them (as Django's optimizer decides).
    """
    inside: list[Operation] = []
    outside: list[Operation] = []
    for operation in operations:
        if _is_outside_transaction(operation):
            outside.append(operation)
        elif all(_can_cross(operation, earlier, app_label) for earlier in outside):
            inside.append(operation)
        else:
            return _consecutive_runs(operations)
    return [segment for segment in (inside, outside) if segment]


class StageAwareAutodetectorMixin:
    """Make Django's autodetector write migrations safe for rolling deploys.

    Mix into ``MigrationAutodetector`` (or a subclass another package
    provides) before it.
    """

    questioner: MigrationQuestioner
    stage_questions: StageQuestionerMixin
    from_state: ProjectState
    to_state: ProjectState
    generated_operations: dict[str, list[Operation]]
    migrations: dict[str, list[Any]]

    def __init__(
        self,
        from_state: ProjectState,
        to_state: ProjectState,
        questioner: MigrationQuestioner | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(from_state, to_state, questioner, *args, **kwargs)  # type: ignore[call-arg]
        # Django's own questions go to the same questioner.
        self.questioner = self.stage_questions = stage_questioner(self.questioner)
        # The tables of models renamed in the state only, by their new names.
        self._tables_kept: dict[tuple[str, str], str] = {}

    # Rules that change single operations.

    def add_operation(
        self,
        app_label: str,
        operation: Operation,
        dependencies: Iterable[Any] | None = None,
        beginning: bool = False,
    ) -> None:
        unconstrained = self._unconstrained_first(app_label, operation)
        if unconstrained is not None:
            super().add_operation(app_label, unconstrained)  # type: ignore[misc]
        written = self._staged(app_label, operation)
        if written is None:
            return
        if isinstance(written, tuple):
            # Expand (pre-deploy), then contract (post-deploy).
            *expand, contract = written
            for each in expand:
                super().add_operation(app_label, each, dependencies, beginning)  # type: ignore[misc]
            written = contract
            dependencies = [_BoundaryDependency(app_label, expand[-1])]
        super().add_operation(app_label, written, dependencies, beginning)  # type: ignore[misc]

    def _unconstrained_first(
        self, app_label: str, operation: Operation
    ) -> Operation | None:
        """Return the pre-deploy removal of the constraint of a relation of a
        model being deleted, if it has one to a model that stays; the model
        goes after the deploy."""
        if type(operation) is not operations.RemoveField or (
            (app_label, operation.model_name_lower) in self.to_state.models
        ):
            return None
        field = self.from_state.models[app_label, operation.model_name_lower].get_field(
            operation.name
        )
        if not self._keeps_constraint(field):
            return None
        return AlterField(
            operation.model_name,
            operation.name,
            rebuilt(field, db_constraint=False),
            stage=Stage.PRE_DEPLOY,
        )

    def _staged(
        self, app_label: str, operation: Operation
    ) -> Operation | tuple[Operation, ...] | None:
        """Return what to write for ``operation``: an operation, operations
        that expand then one that contracts, or ``None`` for nothing."""
        if type(operation) is operations.RenameField:
            return self._staged_rename_field(app_label, operation)
        if type(operation) is operations.RenameModel:
            return self._staged_rename_model(app_label, operation)
        if type(operation) is operations.AlterModelTable:
            if (
                self._tables_kept.get((app_label, operation.name_lower), "")
                == operation.table
            ):
                return None  # The rename in the state names the table already.
            if self._existed(app_label, operation.name_lower):
                old_table = table_name(
                    self.from_state.models[app_label, operation.name_lower]
                )
                return (
                    ExpandAlterModelTable(operation.name, operation.table),
                    ContractAlterModelTable(operation.name, old_table),
                )
            return operation
        if type(operation) is operations.AlterField:
            return self._staged_alter_field(app_label, operation)
        if self._existed(app_label, getattr(operation, "model_name_lower", "")):
            return _lock_safe(operation)
        return operation

    def _existed(self, app_label: str, model_name: str) -> bool:
        """Return whether the table of a model exists before the changes."""
        return (app_label, model_name) in self.from_state.models

    def _staged_alter_field(
        self, app_label: str, operation: operations.AlterField
    ) -> Operation | tuple[Operation, Operation]:
        """Return the alteration to write: one operation, or an expand and a
        contract one for a type change without a table rewrite."""
        old_field = self.from_state.models[
            app_label, operation.model_name_lower
        ].get_field(operation.name)
        old_column = column_field(self.from_state, old_field)
        new_column = column_field(self.to_state, operation.field)
        rewrite = rewrites_table(old_column, new_column)
        if rewrite:
            zero_downtime = conversion = None
            if self._can_shadow(app_label, operation, old_field):
                column = column_name(old_field, operation.name)
                way = (
                    f"a pre-deploy migration adds a column of the new type, kept in "
                    f"sync with {column} and filled in batches, a post-deploy one "
                    f"swaps it in (on PostgreSQL; elsewhere the post-deploy "
                    f"migration alters the field)"
                )
                if old_field.primary_key:
                    way = way.replace(
                        "a column of the new type",
                        "columns of the new type to the key and to every column "
                        "referencing it",
                    ).replace("it in", "them in")
                if widens_type(old_field, operation.field):
                    zero_downtime = (
                        f"Change the type without rewriting the table: {way}"
                    )
                else:
                    conversion = (
                        f"Give the conversion, an SQL expression, and change the "
                        f"type without rewriting the table: {way}"
                    )
            answer = self._confirm_table_rewrite(
                app_label, operation, old_column, new_column, zero_downtime, conversion
            )
            if answer in (EXPAND_CONTRACT, CONVERT):
                conversions: dict[str, str | None] = {}
                if answer == CONVERT:
                    field = f"{app_label}.{operation.model_name}.{operation.name}"
                    forward, backward = self.stage_questions.ask_conversion(
                        field, describe_column_type(new_column)
                    )
                    conversions = {
                        "conversion": forward,
                        "reverse_conversion": backward,
                    }
                return (
                    ExpandAlterField(
                        operation.model_name,
                        operation.name,
                        operation.field,
                        **conversions,
                    ),
                    ContractAlterField(
                        operation.model_name,
                        operation.name,
                        operation.field,
                        operation.preserve_default,
                        **conversions,
                    ),
                )
        # Old code may still write NULLs until it is gone.
        stage = (
            Stage.POST_DEPLOY
            if old_field.null and not operation.field.null
            else Stage.PRE_DEPLOY
        )
        altered: Operation = operation
        if added_constraints(old_field, operation.field):
            altered = AlterFieldConcurrently(
                operation.model_name,
                operation.name,
                operation.field,
                stage=stage,
                preserve_default=operation.preserve_default,
            )
        if rewrite:
            # The user chose to write it anyway: the migration records it.
            reviewed(altered, REWRITE, reason=REWRITE_ANSWER)
        return altered

    def _can_shadow(
        self,
        app_label: str,
        operation: operations.AlterField,
        old_field: models.Field[Any, Any],
    ) -> bool:
        """Return whether a type change can be an expand and a contract step:
        on a column that no key, relation, index or constraint of several
        columns involves, and that doesn't become NOT NULL (the deployed code
        may still write NULL)."""
        new_field = operation.field
        if old_field.primary_key and new_field.primary_key:
            return (
                widens_type(old_field, new_field)
                and self._key_obstacle(app_label, operation.model_name_lower) is None
            )
        return (
            not (old_field.null and not new_field.null)
            and not (old_field.is_relation or new_field.is_relation)
            and self._expand_contract_obstacle(
                app_label, operation.model_name_lower, operation.name, old_field
            )
            is None
        )

    def _key_obstacle(self, app_label: str, model_name: str) -> str | None:
        """Return why the primary key of a model can't change its type in an
        expand and a contract step, or ``None`` if it can."""
        target = f"{app_label}.{model_name}"
        for (label, name), other in self.from_state.models.items():
            for field_name, field in other.fields.items():
                if (
                    field.primary_key
                    and field.is_relation
                    and str(field.related_model).lower() == target
                ):
                    # Its own key would change type, and the columns
                    # referencing that one.
                    return f"the primary key {label}.{name}.{field_name} references it"
        return None

    def _confirm_table_rewrite(
        self,
        app_label: str,
        operation: operations.AlterField,
        old_column: models.Field[Any, Any],
        new_column: models.Field[Any, Any],
        zero_downtime: str | None,
        conversion: str | None,
    ) -> bool | str:
        """Return the answer to the question about a table rewrite: write it
        anyway, ``EXPAND_CONTRACT`` or ``CONVERT``; raise
        ``MakemigrationsAborted`` to quit."""
        field = f"{app_label}.{operation.model_name}.{operation.name}"
        old_type = describe_column_type(old_column)
        new_type = describe_column_type(new_column)
        recipe = (
            f"To change the type of {field} from {old_type} to {new_type} without "
            f"locking the table: add a new field of the new type (NULLable), deploy "
            f"code that writes both, copy the values over in batches "
            f"(syzygy.batches.run_in_batches), deploy code that reads the new "
            f"field, then remove the old one."
        )
        if conversion:
            recipe += (
                " Or run makemigrations interactively and give the SQL expression "
                "that converts the values: the type then changes without a table "
                "rewrite, in an expand and a contract migration."
            )
        answer = self.stage_questions.ask_table_rewrite(
            f"Changing {field} from {old_type} to {new_type} makes PostgreSQL "
            "rewrite the whole table while it is locked against reads and writes.",
            zero_downtime,
            conversion,
        )
        if not answer:
            raise MakemigrationsAborted(recipe)
        return answer

    def _staged_rename_field(
        self, app_label: str, operation: operations.RenameField
    ) -> Operation | tuple[Operation, Operation]:
        """Return the rename the user chose: of one stage, or an expand and a
        contract operation."""
        old_field = self.from_state.models[
            app_label, operation.model_name_lower
        ].get_field(operation.old_name)
        new_field = self.to_state.models[
            app_label, operation.model_name_lower
        ].get_field(operation.new_name)
        old_column = column_name(old_field, operation.old_name)
        new_column = column_name(new_field, operation.new_name)
        if old_column == new_column or (
            # A many-to-many table of its own keeps its name.
            old_field.many_to_many
            and (old_field.remote_field.through or old_field.db_table)
        ):
            return operation  # Only the Python name changes.
        model = f"{app_label}.{operation.model_name}"
        obstacle = self._expand_contract_obstacle(
            app_label, operation.model_name_lower, operation.old_name, old_field
        )
        if old_field.many_to_many:
            table = table_name(
                self.from_state.models[app_label, operation.model_name_lower]
            )
            kind = "table"
            renamed = f"its table {table}_{operation.old_name}"
            keep = f"db_table='{table}_{operation.old_name}'"
            way = (
                "renames its table, with a view under the old name until a "
                "post-deploy migration drops it (on PostgreSQL; elsewhere the "
                "table is renamed pre-deploy)"
            )
        else:
            kind = "column"
            renamed = "its column"
            keep = f"db_column='{old_column}'"
            way = (
                f"adds the column {new_column}, kept in sync with {old_column} "
                f"until a post-deploy migration drops it (on PostgreSQL; elsewhere "
                f"the column is renamed pre-deploy)"
            )
        description = (
            f"Renaming the field {model}.{operation.old_name} renames {renamed}: "
            "the code deployed before or after the rename fails while the other "
            "runs."
        )
        zero_downtime = None
        if obstacle is None:
            zero_downtime = f"Rename without downtime: a pre-deploy migration {way}"
        else:
            description += f" It can't be renamed without downtime: {obstacle}."
        stage = self.stage_questions.ask_rename_stage(
            description,
            (
                f"Quit, and keep the {kind} instead: add {keep} to "
                f"{model}.{operation.new_name}",
                f"Rename pre-deploy: the deployed code doesn't use "
                f"{model}.{operation.old_name}",
                f"Rename post-deploy: the new code doesn't use "
                f"{model}.{operation.new_name} until then",
            ),
            zero_downtime,
        )
        names = (operation.model_name, operation.old_name, operation.new_name)
        if stage == EXPAND_CONTRACT:
            return ExpandRenameField(*names), ContractRenameField(*names)
        if stage is None:
            raise MakemigrationsAborted(
                f"Renaming {model}.{operation.old_name} to {operation.new_name} "
                f"renames a {kind} in use. To rename it safely, either keep the "
                f"{kind} with {keep} "
                f"on {model}.{operation.new_name}, or: add {operation.new_name} as a "
                f"new field, deploy code that writes both fields, copy the values "
                f"over, deploy code that only uses {operation.new_name}, then remove "
                f"{operation.old_name}."
            )
        return RenameField(*names, Stage(stage))

    def _expand_contract_obstacle(
        self,
        app_label: str,
        model_name: str,
        name: str,
        field: models.Field[Any, Any],
    ) -> str | None:
        """Return why the column of a field can't be changed in an expand
        and a contract step, or ``None`` if it can."""
        if field.primary_key:
            return "it is the primary key"
        options = self.from_state.models[app_label, model_name].options
        for option in ("unique_together", "index_together"):
            if any(name in names for names in options.get(option) or ()):
                return f"it is in {option}"
        for option in ("indexes", "constraints"):
            for each in options.get(option) or ():
                # Fields, expressions and conditions all show in the repr.
                if re.search(rf"\b{re.escape(name)}\b", repr(each)):
                    return f"Meta.{option} has {each.name!r}, which uses it"
        target = f"{app_label}.{model_name}"
        for (label, model_name), other in self.from_state.models.items():
            for field_name, other_field in other.fields.items():
                if (
                    other_field.is_relation
                    and str(other_field.related_model).lower() == target
                    and name in (getattr(other_field, "to_fields", None) or ())
                ):
                    return (
                        f"the foreign key {label}.{model_name}.{field_name} points "
                        f"to it"
                    )
        return None

    def _staged_rename_model(
        self, app_label: str, operation: operations.RenameModel
    ) -> Operation | tuple[Operation, ...]:
        old_table = table_name(
            self.from_state.models[app_label, operation.old_name_lower]
        )
        new_table = table_name(
            self.to_state.models[app_label, operation.new_name_lower]
        )
        old_model = f"{app_label}.{operation.old_name}"
        new_model = f"{app_label}.{operation.new_name}"
        many_to_many = self._many_to_many_tables(app_label, operation.old_name_lower)
        table_option = self.to_state.models[
            app_label, operation.new_name_lower
        ].options.get("db_table")
        if old_table == new_table and not many_to_many:
            # Only the Python name changes: nothing to do on the database,
            # where RenameModel would re-create the foreign keys to it.
            self._tables_kept[app_label, operation.new_name_lower] = new_table
            return RenameModelInState(
                operation.old_name, operation.new_name, table_option
            )
        if not many_to_many:
            # Renamed in the state, then its table renamed with a view under
            # the old name until the contract step.
            self._tables_kept[app_label, operation.new_name_lower] = table_option
            return (
                RenameModelInState(operation.old_name, operation.new_name, old_table),
                ExpandAlterModelTable(operation.new_name, table_option),
                ContractAlterModelTable(operation.new_name, old_table),
            )
        if old_table == new_table:
            renamed = (
                f"renames the tables or columns of its many-to-many relations "
                f"({', '.join(many_to_many)})"
            )
            through = "give each relation a through model of its own on its table"
            keep = f"keep them instead: first {through}"
            advice = f"To keep them, first {through}."
        else:
            renamed = f"renames its table {old_table}"
            db_table = f"db_table = '{old_table}' in the Meta of {new_model}"
            keep = f"keep the table instead: set {db_table}"
            advice = f"Set {db_table} to keep it."
        stage = self.stage_questions.ask_rename_stage(
            f"Renaming the model {old_model} to {operation.new_name} {renamed}: the "
            "code deployed before or after the rename fails while the other runs.",
            (
                f"Quit, and {keep}",
                f"Rename pre-deploy: the deployed code doesn't use {old_model}",
                f"Rename post-deploy: the new code doesn't use {new_model} until then",
            ),
        )
        if stage is None:
            raise MakemigrationsAborted(
                f"Renaming {old_model} to {operation.new_name} {renamed}, which the "
                f"deployed code uses. {advice}"
            )
        return RenameModel(operation.old_name, operation.new_name, Stage(stage))

    def _many_to_many_tables(self, app_label: str, model_name: str) -> list[str]:
        """Return the tables Django makes for the many-to-many relations of a
        model, from it or to it, which a rename of the model renames."""
        target = f"{app_label}.{model_name}"
        tables = []
        for (label, name), model in self.from_state.models.items():
            for field_name, field in model.fields.items():
                if not field.many_to_many or field.remote_field.through is not None:
                    continue
                related = str(field.related_model).lower()
                if (label, name) == (app_label, model_name) or related == target:
                    tables.append(field.db_table or f"{table_name(model)}_{field_name}")
        return sorted(tables)

    # Rules that split one change into a pre-deploy and a post-deploy operation.

    def _generate_added_field(
        self, app_label: str, model_name: str, field_name: str
    ) -> None:
        super()._generate_added_field(app_label, model_name, field_name)  # type: ignore[misc]
        added = self.generated_operations[app_label][-1]
        assert isinstance(added, operations.AddField)
        declared = added.field
        stripped = _without_constraints(declared)
        field = stripped or declared
        follow_ups: list[Operation] = []
        if _needs_database_default(declared) and _is_volatile_default(declared):
            # One value computed for every existing row won't do: add the
            # column NULLable, then fill it row by row once old code is gone.
            field = rebuilt(field, null=True, default=NOT_PROVIDED)
            pre: Operation = operations.AddField(
                added.model_name, added.name, field, added.preserve_default
            )
            follow_ups.append(BackfillField(added.model_name, added.name, declared))
        elif _needs_database_default(declared):
            # Old code inserts rows without the column: it needs a database default.
            if _is_timestamp_default(declared):
                field = rebuilt(field, db_default=Now())
            pre = AddField(added.model_name, added.name, field, added.preserve_default)
            if stripped is not None:
                # The column keeps its database default until PostAddField.
                constrained = rebuilt(declared, db_default=pre.field.db_default)
                follow_ups.append(
                    AlterFieldConcurrently(added.model_name, added.name, constrained)
                )
            follow_ups.append(
                PostAddField(
                    added.model_name, added.name, declared, added.preserve_default
                )
            )
        elif stripped is not None:
            pre = operations.AddField(
                added.model_name, added.name, field, added.preserve_default
            )
            follow_ups.append(
                AlterFieldConcurrently(added.model_name, added.name, declared)
            )
        else:
            return
        pre._auto_deps = added._auto_deps  # type: ignore[attr-defined]
        self.generated_operations[app_label][-1] = pre
        for follow_up in follow_ups:
            super().add_operation(  # type: ignore[misc]
                app_label,
                follow_up,
                dependencies=[_BoundaryDependency(app_label, pre)],
            )

    def _generate_removed_field(
        self, app_label: str, model_name: str, field_name: str
    ) -> None:
        field = self.from_state.models[app_label, model_name].get_field(field_name)
        # Not a field removed and added again, as a many-to-many field whose
        # table changes.
        unconstrained = self._keeps_constraint(field) and (
            field_name not in self.to_state.models[app_label, model_name].fields
        )
        if unconstrained:
            # New code deletes the rows it references without knowing them.
            field = rebuilt(field, db_constraint=False)
        # New code inserts rows without the column: it needs a database
        # default or to be NULLable.
        if _needs_database_default(field):
            if not field.has_default():
                default = self.stage_questions.ask_remove_default(
                    app_label, model_name, field_name
                )
                field = rebuilt(
                    field,
                    **({"null": True} if default is NULLABLE else {"default": default}),
                )
            self.add_operation(app_label, PreRemoveField(model_name, field_name, field))
        elif unconstrained:
            self.add_operation(
                app_label,
                AlterField(model_name, field_name, field, stage=Stage.PRE_DEPLOY),
            )
        super()._generate_removed_field(app_label, model_name, field_name)  # type: ignore[misc]

    def _keeps_constraint(self, field: models.Field[Any, Any]) -> bool:
        """Return whether a relation being removed has a database constraint
        to a model that stays, which the new code would trip on when it
        deletes the rows it references: a foreign key, a one-to-one field, or
        the foreign keys of a many-to-many field's auto-created table."""
        holder = field.remote_field if field.many_to_many else field
        # A many-to-many field's own table, if any, is a model of its own.
        if not getattr(holder, "db_constraint", False) or getattr(
            field.remote_field, "through", None
        ):
            return False
        target = str(field.related_model).lower().partition(".")
        return (target[0], target[2]) in self.to_state.models

    # Cutting each app's operations into one pre-deploy and one post-deploy
    # migration.

    def check_dependency(self, operation: Operation, dependency: Any) -> bool:
        if isinstance(dependency, _BoundaryDependency):
            return operation is dependency.operation
        return super().check_dependency(operation, dependency)  # type: ignore[misc,no-any-return]

    def _build_migration_list(self, graph: Any = None) -> None:
        for app_label, app_operations in list(self.generated_operations.items()):
            try:
                stages = partition_operations(app_operations, app_label)
            except AmbiguousStage:
                descriptions = [operation.describe() for operation in app_operations]
                if not self.stage_questions.ask_unpartitioned(app_label, descriptions):
                    raise MakemigrationsAborted(
                        f"The changes of app '{app_label}' can't be split into one "
                        "pre-deploy and one post-deploy migration. Make them in "
                        "several steps: run makemigrations after each."
                    ) from None
                segments = _consecutive_runs(app_operations)
            else:
                pre_deploy, post_deploy = stages
                # The views of renamed tables go first: until then, the
                # columns they show can't be dropped nor change type.
                post_deploy.sort(
                    key=lambda each: not isinstance(each, ContractAlterModelTable)
                )
                segments = [
                    segment
                    for stage_operations in (pre_deploy, post_deploy)
                    for segment in _transaction_segments(stage_operations, app_label)
                ]
            self.generated_operations[app_label] = list(
                itertools.chain.from_iterable(segments)
            )
            for before, after in itertools.pairwise(segments):
                boundary = _StageBoundary()
                super().add_operation(  # type: ignore[misc]
                    STAGE_BOUNDARY_APP,
                    boundary,
                    dependencies=[_BoundaryDependency(app_label, before[-1])],
                )
                after[0]._auto_deps.append(  # type: ignore[attr-defined]
                    _BoundaryDependency(STAGE_BOUNDARY_APP, boundary)
                )
        super()._build_migration_list(graph)  # type: ignore[misc]
        if self.migrations.pop(STAGE_BOUNDARY_APP, None):
            for migration in itertools.chain.from_iterable(self.migrations.values()):
                migration.dependencies = [
                    self._earliest_sufficient(migration, dependency)
                    for dependency in migration.dependencies
                    if dependency[0] != STAGE_BOUNDARY_APP
                ]
        for migration in itertools.chain.from_iterable(self.migrations.values()):
            if all(
                isinstance(operation, OutsideTransaction)
                for operation in migration.operations
            ):
                migration.atomic = False
            reviews = {
                check_id: reason
                for operation in migration.operations
                for check_id, reason in reviews_of(operation)[0].items()
            }
            if reviews:
                migration.reviewed_checks = reviews

    def _earliest_sufficient(
        self, migration: Migration, dependency: tuple[str, str]
    ) -> tuple[str, str]:
        """Return the dependency ``migration`` needs, or one earlier.

        Django makes a migration depend on the latest migration of another app
        it needs something of; when that one is post-deploy and holds nothing
        ``migration`` needs, depending on it would hold a pre-deploy migration
        back, so depend on the migration before it.
        """
        app_label, name = dependency
        names = [each.name for each in self.migrations.get(app_label, [])]
        if app_label == migration.app_label or name not in names:
            return dependency
        index = names.index(name)
        while (
            index > 0
            and _is_post_deploy(self.migrations[app_label][index])
            and not self._needs(migration, self.migrations[app_label][index])
        ):
            index -= 1
        return (app_label, names[index])

    def _needs(self, migration: Migration, other: Migration) -> bool:
        """Return whether an operation of ``migration`` needs one of ``other``."""
        dependencies = [
            self._resolve_dependency(dependency)[0]  # type: ignore[attr-defined]
            for operation in migration.operations
            for dependency in getattr(operation, "_auto_deps", ())
        ]
        return any(
            self.check_dependency(needed, dependency)
            for dependency in dependencies
            if dependency.app_label == other.app_label
            for needed in other.operations
        )


class MigrationAutodetector(StageAwareAutodetectorMixin, DjangoMigrationAutodetector):
    """Django's autodetector with syzygy's stage rules."""
