"""The SQL of migrations as syzygy's ``migrate`` runs them, for review.

``sqlmigrate`` shows it for one migration, ``migrate --plan --sql`` for each
migration of a plan: the statements Django collects, with the lock bounds
``migrate`` adds on PostgreSQL.
"""

from __future__ import annotations

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from . import conf
from .locks import set_local_statements
from .plan import Plan

__all__ = ("in_one_transaction", "lock_bounds", "plan_sql")


def in_one_transaction(connection: BaseDatabaseWrapper, migration: Migration) -> bool:
    """Return whether ``migration`` runs in one transaction on ``connection``."""
    return bool(migration.atomic and connection.features.can_rollback_ddl)


def lock_bounds(connection: BaseDatabaseWrapper, migration: Migration) -> list[str]:
    """Return the lines ``migrate`` adds to the SQL of ``migration`` to bound
    its lock waits: the ``SET LOCAL`` statements that begin its transaction,
    or, if it runs in none, a comment on how each statement is bounded."""
    bounds = set_local_statements(conf.lock_policy())
    if connection.vendor != "postgresql" or not bounds:
        return []
    if in_one_transaction(connection, migration):
        return [f"{statement};" for statement in bounds]
    return [
        "-- Not atomic: each statement runs in a transaction of its own that "
        f"starts with {'; '.join(bounds)}; except CONCURRENTLY ones, which "
        "can't run in a transaction and take no lock that blocks writes."
    ]


def plan_sql(
    loader: MigrationLoader, connection: BaseDatabaseWrapper, plan: Plan
) -> list[list[str]]:
    """Return the SQL lines of each step of ``plan``, as ``sqlmigrate`` shows
    them, with the transaction around them."""
    state: ProjectState | None = None
    done: set[tuple[str, str]] = set()
    shown = []
    for migration, backwards in plan:
        key = (migration.app_label, migration.name)
        try:
            with connection.schema_editor(
                collect_sql=True, atomic=migration.atomic
            ) as schema_editor:
                if backwards:
                    # As sqlmigrate --backwards: from the state before it.
                    before = loader.project_state(key, at_end=False)
                    try:
                        migration.unapply(before, schema_editor, collect_sql=True)
                    except IrreversibleError as error:
                        schema_editor.collected_sql.append(f"-- IRREVERSIBLE: {error}")
                else:
                    # As migrate: from the state of what is applied, then of
                    # each step before this one.
                    if state is None:
                        state = _state_after(loader, done)
                    state = migration.apply(state, schema_editor, collect_sql=True)
            statements = list(schema_editor.collected_sql)
        except (DatabaseError, ValueError) as error:
            # Some operations look at the database to write their SQL (a
            # RenameIndex of unnamed indexes, say), which holds nothing yet of
            # the migrations before them: they find nothing, or no table.
            statements = [
                "-- Its SQL can't be collected before the migrations before it "
                f"are applied: {error}"
            ]
            state = None
        done.add(key)
        lines = [*lock_bounds(connection, migration), *statements]
        if in_one_transaction(connection, migration):
            lines = [
                connection.ops.start_transaction_sql(),
                *lines,
                connection.ops.end_transaction_sql(),
            ]
        shown.append(lines)
    return shown


def _state_after(loader: MigrationLoader, done: set[tuple[str, str]]) -> ProjectState:
    """Return the project state of the migrations applied on the loader's
    connection, and of those ``done``."""
    graph = loader.graph
    applied = {key for key in loader.applied_migrations if key in graph.nodes}
    applied |= done
    # The state of the latest applied migrations holds that of the others.
    latest = [
        key
        for key in applied
        if not any(child.key in applied for child in graph.node_map[key].children)
    ]
    if not latest:
        return ProjectState(real_apps=loader.unmigrated_apps)
    return loader.project_state(sorted(latest), at_end=True)
