"""Lint of the migrations not yet applied to a database.

Hand-written and third-party migrations are not rewritten: the system checks
of this module report their operations that lock a big table for long,
rewrite it, or break the code deployed before or after them
(``syzygy.W002`` to ``syzygy.W008``); ``SYZYGY_LINT_ERRORS`` makes them
errors. An explicit stage is the user's decision: it is reported, never
blocked by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, router
from django.db.migrations import Migration, operations
from django.db.migrations.exceptions import (
    BadMigrationError,
    CircularDependencyError,
    NodeNotFoundError,
)
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState

from . import conf, fields
from . import operations as syzygy_operations
from .constants import Stage
from .exceptions import AmbiguousStage
from .fields import (
    column_field,
    column_name,
    default_table_name,
    describe_column_type,
    has_index,
    rewrites_table,
    table_name,
)
from .plan import ResolvedStage, migration_stage
from .reviews import reviews_of

__all__ = ("IDS", "check_unsafe_operations")

AnyField: TypeAlias = "models.Field[Any, Any]"
Key: TypeAlias = tuple[str, str]

INDEX = "syzygy.W002"
CONSTRAINT = "syzygy.W003"
NOT_NULL = "syzygy.W004"
SHARED_DEFAULT = "syzygy.W005"
REWRITE = "syzygy.W006"
RENAME = "syzygy.W007"
DESTRUCTIVE = "syzygy.W008"
UNREACHABLE = "syzygy.E004"
INVALID_REVIEW = "syzygy.W009"
IDS = (INDEX, CONSTRAINT, NOT_NULL, SHARED_DEFAULT, REWRITE, RENAME, DESTRUCTIVE)

# The AlterField operations that build their constraints as Django does;
# syzygy's other subclasses either add none or add them the lock-safe way.
_PLAIN_ALTER_FIELDS = (operations.AlterField, syzygy_operations.AlterField)

_NON_ATOMIC = "in a migration with atomic = False, as makemigrations writes it"
_INDEX_HINT = (
    f"Use syzygy.operations.AddIndexConcurrently {_NON_ATOMIC}: on PostgreSQL it "
    "runs CREATE INDEX CONCURRENTLY, which doesn't block writes."
)
_CONSTRAINT_HINT = (
    f"Use syzygy.operations.AddConstraintNotValid {_NON_ATOMIC}: on PostgreSQL it "
    "adds a check constraint NOT VALID then validates it, and builds the index of "
    "a unique constraint concurrently, without blocking reads and writes."
)
_FIELD_CONSTRAINTS_HINT = (
    "Add or alter the field without its index, unique or foreign key constraint, "
    f"then add them with syzygy.operations.AlterFieldConcurrently {_NON_ATOMIC}: "
    "on PostgreSQL it builds indexes concurrently and validates constraints "
    "without blocking reads and writes."
)
_NOT_NULL_HINT = (
    "Use syzygy.operations.AlterFieldConcurrently(..., "
    f"stage=syzygy.Stage.POST_DEPLOY) {_NON_ATOMIC}: on PostgreSQL it adds "
    "CHECK (column IS NOT NULL) NOT VALID, validates it without blocking reads "
    "and writes, then sets NOT NULL without a scan."
)
_SHARED_DEFAULT_HINT = (
    "Add the field NULLable without a default, then fill it row by row with "
    "syzygy.operations.BackfillField in a post-deploy migration with "
    "atomic = False, as makemigrations writes it. For a timestamp, "
    "db_default=django.db.models.functions.Now() gives the existing rows the "
    "time of the migration."
)
_REWRITE_HINT = (
    "Expand and contract instead: for a wider integer type (smallint to integer "
    "or bigint, integer to bigint), syzygy.operations.ExpandAlterField in a "
    "pre-deploy migration, then syzygy.operations.ContractAlterField in a "
    "post-deploy one, each with atomic = False (makemigrations writes them); "
    "otherwise, add a field of the new type, deploy code that "
    "writes both, copy the values over in batches, deploy code that only uses "
    "the new field, then remove the old one. Widening a CharField's max_length, "
    "CharField to TextField, and more max_digits of a DecimalField with the same "
    "decimal_places keep the table as it is."
)
_DESTRUCTIVE_HINT = (
    "Run it post-deploy: move it to a migration of its own with "
    "stage = syzygy.Stage.POST_DEPLOY, or set that stage in "
    "MIGRATION_STAGES_OVERRIDE for a migration you don't control."
)
_REMOVE_FIELD_HINT = (
    f"{_DESTRUCTIVE_HINT} Before the deploy, make the column NULLable or give it "
    "a database default with syzygy.operations.PreRemoveField, as makemigrations "
    "does, so that the new code can insert rows without it."
)
_REVIEW_HINT = (
    " If no deployed code uses it any more, record that review in the "
    'migration: reviewed_checks = {"syzygy.W008": "<why>"} on its Migration class.'
)


def check_unsafe_operations(
    app_configs: Iterable[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Report the unsafe operations of the migrations not yet applied.

    Like Django's database checks it runs when databases are checked:
    ``migrate``, ``check --database``, and the test runner. A migration
    unapplied on several of the checked databases is reported once, unless
    what is wrong with it differs from one database to another.
    """
    silenced = set(settings.SILENCED_SYSTEM_CHECKS)
    if databases is None or silenced.issuperset(IDS):
        return []
    app_labels = (
        None
        if app_configs is None
        else {app_config.label for app_config in app_configs}
    )
    try:
        lint = conf.lint_config()
        stages = conf.stage_config()
    except ImproperlyConfigured:
        return []  # syzygy.E003 reports it.
    messages: dict[tuple[Any, ...], CheckMessage] = {}
    for alias in databases:
        try:
            found = _lint_database(alias, app_labels, lint, stages)
        except DatabaseError as exc:
            found = [_unreachable(alias, exc)]
        for message in found:
            key = (message.level, message.msg, message.hint, message.id, message.obj)
            messages.setdefault(key, message)
    return list(messages.values())


def _unreachable(alias: str, error: DatabaseError) -> CheckMessage:
    reason = " ".join(str(error).split()) or type(error).__name__
    return Error(
        f"The migrations not yet applied on database {alias!r} can't be linted: "
        f"its migration history can't be read ({reason}).",
        hint=(
            f"Check DATABASES[{alias!r}] and that the database server is running "
            "and reachable."
        ),
        id=UNREACHABLE,
    )


def _lint_database(
    alias: str,
    app_labels: set[str] | None,
    lint: conf.LintConfig,
    stages: conf.StageConfig,
) -> list[CheckMessage]:
    """Return the messages about the migrations not yet applied on ``alias``.

    The project state is built once, along the plan that migrates an empty
    database, up to the last migration to lint.
    """
    try:
        loader = MigrationLoader(connections[alias])
        plan = _full_plan(loader.graph)
    except (BadMigrationError, CircularDependencyError, NodeNotFoundError):
        return []  # Left for migrate to report, as Django's loader words it.
    applied = loader.applied_migrations or {}
    unapplied = {key for key in plan if key not in applied}
    linted = {
        key
        for key in unapplied
        if (app_labels is None or key[0] in app_labels) and not lint.excludes(*key)
    }
    if not linted:
        return []
    last = max(index for index, key in enumerate(plan) if key in linted)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    new_tables: dict[str, Stage | None] = {}
    messages: list[CheckMessage] = []
    for key in plan[: last + 1]:
        migration = loader.graph.nodes[key]
        resolved = _resolved_stage(migration, stages) if key in unapplied else None
        stage = None if resolved is None else resolved.stage
        if key in linted:
            migration_reviews = _reviews(
                migration, migration, messages, errors=lint.errors
            )
        for operation in migration.operations:
            if key in linted:
                context = _Context(alias, migration, resolved, state, new_tables)
                reviewed = {
                    **migration_reviews,
                    **_reviews(operation, migration, messages, errors=lint.errors),
                }
                messages.extend(
                    context.message(operation, finding, errors=lint.errors)
                    for finding in _findings(operation, context)
                    if finding.id not in reviewed
                )
            if key not in unapplied:
                operation.state_forwards(migration.app_label, state)
                continue
            changes = list(_table_changes(operation, migration.app_label, state))
            operation.state_forwards(migration.app_label, state)
            _track_new_tables(changes, stage, new_tables)
    return messages


def _reviews(
    holder: Migration | Operation,
    migration: Migration,
    messages: list[CheckMessage],
    *,
    errors: bool,
) -> Mapping[str, str]:
    """Return the reviews a migration or one of its operations records; report
    invalid ones (``syzygy.W009``), which count as none."""
    reviews, problem = reviews_of(holder)
    if problem is not None:
        where = (
            "the Migration class"
            if holder is migration
            else f"the operation '{holder.describe()}'"  # type: ignore[union-attr]
        )
        level = Error if errors else Warning
        messages.append(
            level(
                f"The reviews of {where} of {migration.app_label}.{migration.name} "
                f"are ignored: {problem}.",
                hint=(
                    'Set reviewed_checks = {"syzygy.W00n": "why it is safe"} on the '
                    "Migration class, or wrap one operation in "
                    'syzygy.reviewed(operation, "syzygy.W00n", reason="...").'
                ),
                obj=migration,
                id=INVALID_REVIEW,
            )
        )
    return reviews


def _full_plan(graph: MigrationGraph) -> list[Key]:
    """Return every migration in the order ``migrate`` applies them to an
    empty database."""
    plan: dict[Key, None] = {}
    for leaf in sorted(graph.leaf_nodes()):
        plan.update(dict.fromkeys(graph.forwards_plan(leaf)))
    return list(plan)


def _resolved_stage(
    migration: Migration, stages: conf.StageConfig
) -> ResolvedStage | None:
    """Return the stage of a migration, ``None`` if it is ambiguous.

    ``syzygy.E001`` reports ambiguous stages.
    """
    try:
        return migration_stage(migration, stages)
    except AmbiguousStage:
        return None


def _swapped(model: ModelState) -> bool:
    """Return whether a setting swaps a swappable model for another, as
    ``AUTH_USER_MODEL`` does: it has no table."""
    setting = model.options.get("swappable")
    swapped_for = getattr(settings, setting, None) if setting else None
    label = f"{model.app_label}.{model.name_lower}"
    return isinstance(swapped_for, str) and swapped_for.lower() != label


def _table_changes(
    operation: Operation, app_label: str, state: ProjectState
) -> Iterator[tuple[str | None, str | None]]:
    """Yield ``(old, new)`` for each table an operation creates (``old`` is
    ``None``), renames, or drops (``new`` is ``None``) on the database;
    ``state`` is the state before it."""
    if isinstance(operation, operations.SeparateDatabaseAndState):
        # Its database operations run one after the other on a state of
        # their own, as Django runs them.
        database_state = state.clone()
        for database_operation in operation.database_operations:
            yield from _table_changes(database_operation, app_label, database_state)
            database_operation.state_forwards(app_label, database_state)
    elif isinstance(operation, operations.CreateModel):
        table = operation.options.get("db_table")
        yield None, table or default_table_name(app_label, operation.name)
    elif isinstance(operation, syzygy_operations.RenameModelInState):
        return
    elif isinstance(operation, operations.RenameModel):
        model = state.models[app_label, operation.old_name_lower]
        table = model.options.get("db_table")
        yield (
            table_name(model),
            table or default_table_name(app_label, operation.new_name),
        )
    elif isinstance(operation, operations.AlterModelTable):
        model = state.models[app_label, operation.name_lower]
        yield (
            table_name(model),
            operation.table or default_table_name(app_label, model.name),
        )
    elif isinstance(operation, operations.DeleteModel):
        yield table_name(state.models[app_label, operation.name_lower]), None


def _track_new_tables(
    changes: list[tuple[str | None, str | None]],
    stage: Stage | None,
    new_tables: dict[str, Stage | None],
) -> None:
    """Record the tables an unapplied migration creates, with its stage, and
    follow them by name when they are renamed, whatever model the state
    gives them."""
    for old, new in changes:
        if old is None:
            new_tables[str(new)] = stage
        elif old in new_tables:
            created = new_tables.pop(old)
            if new is not None:
                new_tables[new] = created


@dataclass(frozen=True)
class _Finding:
    """What is unsafe about an operation, and what to do instead."""

    id: str
    problem: str
    hint: str


@dataclass(frozen=True)
class _Context:
    """The migration an operation belongs to, and the database it runs on."""

    alias: str
    migration: Migration
    resolved: ResolvedStage | None
    state: ProjectState
    new_tables: dict[str, Stage | None]

    @property
    def stage(self) -> Stage | None:
        """Return the stage of the migration; ``None`` if it has none."""
        return None if self.resolved is None else self.resolved.stage

    def existing_model(self, model_name: str) -> ModelState | None:
        """Return the state of a model whose table exists, with rows, when the
        operation runs on the database; ``None`` if it needs no care.

        A table created by a migration also unapplied on the database is
        empty, unless it was created pre-deploy and the operation runs
        post-deploy: the new code has written to it in between.
        Unmanaged, proxy and swapped models, and models the database routers
        keep off the database, have no table the operation could lock.
        """
        key = (self.migration.app_label, model_name)
        model: ModelState = self.state.models[key]
        table = table_name(model)
        if table in self.new_tables and not (
            self.new_tables[table] is Stage.PRE_DEPLOY
            and self.stage is Stage.POST_DEPLOY
        ):
            return None
        if not model.options.get("managed", True) or model.options.get("proxy"):
            return None
        if _swapped(model):
            return None
        if not router.allow_migrate(self.alias, key[0], model_name=model_name):
            return None
        return model

    def message(
        self, operation: Operation, finding: _Finding, *, errors: bool
    ) -> CheckMessage:
        """Return the check message of a finding about ``operation``."""
        level = Error if errors else Warning
        migration = self.migration
        return level(
            f"In {migration.app_label}.{migration.name}, "
            f"'{operation.describe()}' {finding.problem}",
            hint=finding.hint,
            obj=migration,
            id=finding.id,
        )


def _findings(operation: Operation, context: _Context) -> Iterator[_Finding]:
    """Yield what is unsafe about an operation of an unapplied migration.

    Subclasses of Django's operations that syzygy or other packages provide
    are not taken for the stock ones: most exist to do the same job safely.
    """
    if type(operation) is operations.AddIndex:
        yield from _add_index(operation, context)
    elif type(operation) is operations.AddConstraint:
        yield from _add_constraint(operation, context)
    elif isinstance(operation, operations.AddField):
        yield from _add_field(operation, context)
    elif isinstance(operation, operations.AlterField):
        yield from _alter_field(operation, context)
    elif type(operation) is operations.RenameField:
        yield from _rename_field(operation, context)
    elif type(operation) is operations.RenameModel:
        yield from _rename_model(operation, context)
    elif type(operation) is operations.AlterModelTable:
        yield from _alter_model_table(operation, context)
    elif isinstance(operation, (operations.RemoveField, operations.DeleteModel)):
        yield from _destructive(operation, context)


def _add_index(operation: operations.AddIndex, context: _Context) -> Iterator[_Finding]:
    model = context.existing_model(operation.model_name_lower)
    if model is not None:
        yield _index_finding(model, _INDEX_HINT)


def _add_constraint(
    operation: operations.AddConstraint, context: _Context
) -> Iterator[_Finding]:
    constraint = operation.constraint
    if not isinstance(constraint, (models.CheckConstraint, models.UniqueConstraint)):
        return
    model = context.existing_model(operation.model_name_lower)
    if model is not None:
        kind = "check" if isinstance(constraint, models.CheckConstraint) else "unique"
        yield _constraint_finding(model, [f"a {kind} constraint"], _CONSTRAINT_HINT)


def _add_field(operation: operations.AddField, context: _Context) -> Iterator[_Finding]:
    field = operation.field
    model = context.existing_model(operation.model_name_lower)
    if model is None or field.many_to_many:
        return
    if has_index(field):
        yield _index_finding(model, _FIELD_CONSTRAINTS_HINT)
    constraints = _checked_constraints(fields.added_constraints(None, field))
    if constraints:
        yield _constraint_finding(model, constraints, _FIELD_CONSTRAINTS_HINT)
    if (
        type(operation) is operations.AddField
        and not field.null
        and fields.has_volatile_default(field)
        and not field.has_db_default()
    ):
        yield _Finding(
            SHARED_DEFAULT,
            f"adds the NOT NULL column {table_name(model)}."
            f"{column_name(field, operation.name)} with the default "
            f"{_callable_name(field.default)}, called once: every existing row "
            "gets the same value.",
            _SHARED_DEFAULT_HINT,
        )


def _alter_field(
    operation: operations.AlterField, context: _Context
) -> Iterator[_Finding]:
    model = context.existing_model(operation.model_name_lower)
    if model is None:
        return
    old_field, new_field = model.get_field(operation.name), operation.field
    if old_field.many_to_many or new_field.many_to_many:
        return  # There is no column; Django refuses to alter the relation.
    column = f"{table_name(model)}.{column_name(new_field, operation.name)}"
    if type(operation) in _PLAIN_ALTER_FIELDS:
        added = fields.added_constraints(old_field, new_field)
        if fields.INDEX in added:
            yield _index_finding(model, _FIELD_CONSTRAINTS_HINT)
        constraints = _checked_constraints(added)
        if constraints:
            yield _constraint_finding(model, constraints, _FIELD_CONSTRAINTS_HINT)
        if fields.NOT_NULL in added:
            yield _Finding(
                NOT_NULL,
                f"makes the column {column} NOT NULL, which locks the table "
                "while every row is checked: the application's queries on it wait.",
                _NOT_NULL_HINT,
            )
    old_column = column_field(context.state, old_field)
    new_column = column_field(context.state, new_field)
    # ContractAlterField swaps in a column its expand step filled.
    if rewrites_table(old_column, new_column) and not isinstance(
        operation, syzygy_operations.ContractAlterField
    ):
        yield _Finding(
            REWRITE,
            f"changes the type of the column {column} from "
            f"{describe_column_type(old_column)} to "
            f"{describe_column_type(new_column)}: "
            "PostgreSQL rewrites the whole table under a lock that blocks its "
            "reads and writes.",
            _REWRITE_HINT,
        )


def _rename_field(
    operation: operations.RenameField, context: _Context
) -> Iterator[_Finding]:
    model = context.existing_model(operation.model_name_lower)
    if model is None:
        return
    field = model.get_field(operation.old_name)
    old_name, new_name = operation.old_name, operation.new_name
    table = table_name(model)
    if isinstance(field, models.ManyToManyField):
        # An explicit through model or table keeps its name; an auto-created
        # one is named after the field.
        if field.remote_field.through or field.db_table:  # type: ignore[attr-defined]
            return
        what = f"the table {table}_{old_name} to {table}_{new_name}"
        hint = (
            f"Keep the table: add db_table='{table}_{old_name}' to the renamed "
            "field. Or rename it without downtime: syzygy.operations."
            "ExpandRenameField (a view under the old name) in a pre-deploy "
            "migration, then syzygy.operations.ContractRenameField in a "
            "post-deploy one, each with atomic = False (makemigrations writes "
            "them)."
        )
    else:
        if field.db_column:
            return
        old_column, new_column = (
            column_name(field, old_name),
            column_name(field, new_name),
        )
        what = f"the column {table}.{old_column} to {new_column}"
        hint = (
            f"Keep the column: add db_column='{old_column}' to the renamed field. "
            "Or rename it without downtime: syzygy.operations.ExpandRenameField in "
            "a pre-deploy migration, then syzygy.operations.ContractRenameField in "
            "a post-deploy one, each with atomic = False (makemigrations writes "
            "them)."
        )
    yield _Finding(
        RENAME,
        f"renames {what}: while the release rolls out, the code that expects the "
        "other name fails.",
        f"{hint} Or, if the code of one side doesn't use the field, use "
        "syzygy.operations.RenameField(..., stage=syzygy.Stage.PRE_DEPLOY or "
        "POST_DEPLOY), which says so.",
    )


def _rename_model(
    operation: operations.RenameModel, context: _Context
) -> Iterator[_Finding]:
    model = context.existing_model(operation.old_name_lower)
    if model is None or model.options.get("db_table"):
        return
    old_table = table_name(model)
    if _table_restored(operation, context.migration, old_table):
        return
    new_table = default_table_name(model.app_label, operation.new_name)
    yield _Finding(
        RENAME,
        f"renames the table {old_table} to {new_table}: while the release rolls "
        "out, the code that expects the other name fails.",
        f"Keep the table: set db_table = '{old_table}' in the Meta of the renamed "
        "model. Or rename it without downtime, as makemigrations writes it: "
        "syzygy.operations.RenameModelInState and ExpandAlterModelTable (a view "
        "under the old name) pre-deploy, then ContractAlterModelTable "
        "post-deploy. Or, if the code of one side doesn't use the model, use "
        "syzygy.operations.RenameModel(..., stage=syzygy.Stage.PRE_DEPLOY or "
        "POST_DEPLOY), which says so.",
    )


def _alter_model_table(
    operation: operations.AlterModelTable, context: _Context
) -> Iterator[_Finding]:
    model = context.existing_model(operation.name_lower)
    if model is None or _renamed_before(operation, context.migration):
        return
    old_table = table_name(model)
    new_table = operation.table or default_table_name(model.app_label, model.name)
    if new_table == old_table:
        return
    yield _Finding(
        RENAME,
        f"renames the table {old_table} to {new_table}: while the release rolls "
        "out, the code that expects the other name fails.",
        "Rename it without downtime, as makemigrations writes it: "
        "syzygy.operations.ExpandAlterModelTable (a view under the old name) "
        "pre-deploy, then ContractAlterModelTable post-deploy.",
    )


def _renamed_before(
    operation: operations.AlterModelTable, migration: Migration
) -> bool:
    """Return whether a ``RenameModel`` to the model comes before the
    operation in its migration: the rename reports the table."""
    earlier = migration.operations[: migration.operations.index(operation)]
    return any(
        isinstance(each, operations.RenameModel)
        and each.new_name_lower == operation.name_lower
        for each in earlier
    )


def _table_restored(
    operation: operations.RenameModel, migration: Migration, table: str
) -> bool:
    """Return whether an ``AlterModelTable`` that follows the rename in its
    migration gives the model its old table back, as makemigrations writes it
    when ``db_table`` keeps the table: the transaction never shows the other
    name."""
    following = migration.operations[migration.operations.index(operation) + 1 :]
    return migration.atomic and any(
        isinstance(each, operations.AlterModelTable)
        and each.name_lower == operation.new_name_lower
        and each.table == table
        for each in following
    )


def _destructive(
    operation: operations.RemoveField | operations.DeleteModel, context: _Context
) -> Iterator[_Finding]:
    if context.resolved is None or context.resolved.stage is not Stage.PRE_DEPLOY:
        return
    if isinstance(operation, operations.RemoveField):
        model = context.existing_model(operation.model_name_lower)
        what = f"the field {operation.model_name}.{operation.name}"
        hint = _REMOVE_FIELD_HINT + _REVIEW_HINT
    else:
        model = context.existing_model(operation.name_lower)
        what = f"the model {operation.name}"
        hint = _DESTRUCTIVE_HINT + _REVIEW_HINT
    if model is not None:
        yield _Finding(
            DESTRUCTIVE,
            f"drops {what} before the deploy (its migration runs pre-deploy, "
            f"{context.resolved.origin.explanation}): if the running code still "
            f"uses it, its queries on {table_name(model)} fail until the new code "
            "replaces it.",
            hint,
        )


def _index_finding(model: ModelState, hint: str) -> _Finding:
    return _Finding(
        INDEX,
        f"builds an index with a plain CREATE INDEX: writes to the table "
        f"{table_name(model)} wait until it has read every row.",
        hint,
    )


def _constraint_finding(
    model: ModelState, constraints: list[str], hint: str
) -> _Finding:
    return _Finding(
        CONSTRAINT,
        f"adds {' and '.join(constraints)} to the existing table {table_name(model)}, "
        "which locks it while every row is checked: the application's queries "
        "on it wait.",
        hint,
    )


def _checked_constraints(added: list[str]) -> list[str]:
    """Return the constraints among ``added`` that check every row."""
    return [each for each in added if each in (fields.UNIQUE, fields.FOREIGN_KEY)]


def _callable_name(function: Any) -> str:
    name = getattr(function, "__qualname__", None)
    return f"{function.__module__}.{name}()" if name else repr(function)
