"""Deploy rehearsal: replay a deploy on a scratch database, with the code
deployed now and the release doing what an app does at each step.

The migrations applied on the project's database are the code deployed now
("old"); the unapplied ones are the release ("new"). On a scratch database
made like a test database, the deployed migrations are applied and rows
seeded with the old models; then ``migrate --pre-deploy`` runs, the rollout,
and ``migrate``. After each migration, the sides that run at that step
(old during the pre-deploy, both at the rollout, new during the post-deploy)
create, read, filter, update, bulk create, delete and follow relations on
every model; on PostgreSQL a side also writes while each migration runs,
which measures the longest write stall the migration caused.

The project's database is only read: its ``django_migrations`` table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from io import StringIO

from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from ..management.commands import migrate
from .report import (
    POST_DEPLOY,
    PRE_DEPLOY,
    ROLLOUT,
    FailingQuery,
    MigrationStep,
    Report,
)
from .scratch import ScratchDatabase, ScratchDatabaseError, scratch_database
from .traffic import Failure, Side, Writes, generator_for, seed, shared_counter
from .values import ValueGenerator

__all__ = ("RehearsalError", "Report", "rehearse")

Key = tuple[str, str]


class RehearsalError(Exception):
    """The deploy could not be replayed: a migration failed to apply, or
    the scratch database could not be made."""


def rehearse(database: str = "default", rows: int = 100, seed_value: int = 0) -> Report:
    """Rehearse the deploy of the migrations not applied on ``database``,
    seeding ``rows`` rows per model; return what it found."""
    connection = connections[database]
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    ordered = _ordered_nodes(loader.graph)
    deployed = [key for key in ordered if key in loader.applied_migrations]
    release = [key for key in ordered if key not in loader.applied_migrations]
    report = Report(database, connection.vendor, rows, deployed=len(deployed))
    if not release:
        report.notes.append("No migration is unapplied: there is nothing to rehearse.")
        return report
    if not deployed:
        report.notes.append(
            "No migration is applied: there is no deployed code, only the release."
        )
    old_state = (
        loader.project_state(deployed, at_end=True) if deployed else ProjectState()
    )
    new_state = loader.project_state()
    try:
        with scratch_database(database) as scratch:
            rehearsal = _Rehearsal(report, scratch, old_state, new_state, seed_value)
            with rehearsal.worker():
                rehearsal.run(deployed, rows)
    except ScratchDatabaseError as error:
        raise RehearsalError(str(error)) from error
    return report


def _ordered_nodes(graph: MigrationGraph) -> list[Key]:
    """Return every migration of ``graph``, each after its dependencies."""
    ordered: dict[Key, None] = {}
    for leaf in sorted(graph.leaf_nodes()):
        for key in graph.forwards_plan(leaf):
            ordered.setdefault(key, None)
    return list(ordered)


@dataclass
class _Event:
    """A point of the deploy after which the sides ran: a migration, or the
    rollout."""

    step: str
    migration: Migration | None = None
    started: float = 0.0
    ended: float = 0.0


class _Rehearsal:
    """The steps of one rehearsal on its scratch database."""

    def __init__(
        self,
        report: Report,
        scratch: ScratchDatabase,
        old_state: ProjectState,
        new_state: ProjectState,
        seed_value: int,
    ) -> None:
        self.report = report
        self.scratch = scratch
        self.alias = scratch.alias
        self.seed_value = seed_value
        self.counter = shared_counter()
        self.old = Side("old", old_state, scratch, self._generator())
        self.new = Side("new", new_state, scratch, self._generator())
        self.concurrent = connections[self.alias].vendor == "postgresql"
        self.events: list[_Event] = []
        self.first: dict[tuple[str, str, str], tuple[int, Failure]] = {}
        self.baseline: set[tuple[str, str, str]] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._writes: Writes | None = None

    def _generator(self) -> ValueGenerator:
        self.seed_value += 1
        return generator_for(self.seed_value, self.counter)

    @contextmanager
    def worker(self) -> Iterator[None]:
        """Run the rounds of traffic in a thread of their own, on a
        connection of their own: never on the connection that migrates."""
        self._pool = ThreadPoolExecutor(
            1, thread_name_prefix="rehearsal", initializer=self.scratch.connect
        )
        try:
            yield
        finally:
            self._pool.submit(self.scratch.disconnect)
            self._pool.shutdown(wait=True)

    def _round(self, *sides: Side) -> list[Failure]:
        assert self._pool is not None
        return self._pool.submit(
            lambda: [failure for side in sides for failure in side.round()]
        ).result()

    def run(self, deployed: list[Key], rows: int) -> None:
        """Replay the deploy."""
        executor = MigrationExecutor(connections[self.alias])
        if deployed:
            plan = [(executor.loader.graph.nodes[key], False) for key in deployed]
            # What the migrations print (progress of backfills, data
            # migrations' messages) is not the rehearsal's output.
            with redirect_stdout(StringIO()):
                executor.migrate([], plan=plan)
        self.report.notes.extend(
            seed(self.old.models, self.alias, rows, self._generator())
        )
        connections[self.alias].close()
        baseline = self._round(self.old)
        self.baseline = {failure.key for failure in baseline}
        self.report.not_rehearsed.extend(baseline)
        self._migrate(PRE_DEPLOY, self.old)
        self.events.append(_Event(ROLLOUT))
        self._record(self._round(self.old, self.new), len(self.events) - 1)
        self._migrate(POST_DEPLOY, self.new)
        self._report()

    def _migrate(self, stage: str, side: Side) -> None:
        """Run ``migrate`` (``--pre-deploy``) as a deploy does, the sides
        running after each migration, and during it on PostgreSQL."""
        writes = Writes(side) if self.concurrent else None
        first_event = len(self.events)
        command = _RehearsalMigrate(self, stage, side)
        if writes is not None:
            writes.start()
        self._writes = writes
        try:
            call_command(
                command,
                database=self.alias,
                pre_deploy=stage == PRE_DEPLOY,
                interactive=False,
                verbosity=0,
            )
        except (CommandError, DatabaseError) as error:
            applying = command.applying
            what = (
                f"Applying {applying} ({stage})"
                if applying is not None
                else f"The {stage} migrate"
            )
            raise RehearsalError(
                f"{what} failed on the scratch database: {error}"
            ) from error
        finally:
            self._writes = None
            if writes is not None:
                writes.stop()
        if writes is not None:
            self._measure(writes, first_event)

    def _measure(self, writes: Writes, first_event: int) -> None:
        """Take the stall of each migration, and the failures of the writes
        that ran during it, from ``writes``."""
        events = list(enumerate(self.events))[first_event:]
        for _, event in events:
            assert event.migration is not None
            step = self._step(event.migration)
            step.stall = round(writes.longest(event.started, event.ended), 3)
        if not events:
            # No migration ran: the writes saw what the last round saw.
            return
        for finished, failure in writes.failures:
            # The migration under way, or the last one applied.
            position = max(
                (position for position, event in events if event.started <= finished),
                default=first_event,
            )
            self._record([failure], position)

    def _step(self, migration: Migration) -> MigrationStep:
        return next(
            step for step in self.report.migrations if step.migration == str(migration)
        )

    def applied(
        self, stage: str, migration: Migration, sides: tuple[Side, ...]
    ) -> None:
        """Note that ``migration`` was applied, and run ``sides`` after it."""
        event = self.events[-1]
        event.ended = time.monotonic()
        self.report.migrations.append(MigrationStep(str(migration), stage))
        if self._writes is None:
            failures = self._round(*sides)
        else:
            with self._writes.paused():
                failures = self._round(*sides)
        self._record(failures, len(self.events) - 1)

    def _record(self, failures: list[Failure], position: int) -> None:
        for failure in failures:
            if failure.key in self.baseline:
                continue
            known = self.first.get(failure.key)
            if known is None or position < known[0]:
                self.first[failure.key] = (position, failure)

    def _report(self) -> None:
        pre_deployed = [
            event.migration
            for event in self.events
            if event.step == PRE_DEPLOY and event.migration is not None
        ]
        postponed = [
            event.migration
            for event in self.events
            if event.step == POST_DEPLOY and event.migration is not None
        ]
        for position, failure in sorted(self.first.values(), key=lambda item: item[0]):
            event = self.events[position]
            if event.migration is not None:
                migration: str | None = str(event.migration)
            else:
                # New code misses what is postponed; old code trips on what
                # the pre-deploy migrations made.
                candidates = postponed if failure.side == "new" else pre_deployed
                migration = _touching(candidates, failure.model)
            self.report.failures.append(FailingQuery(failure, event.step, migration))
        for side in (self.old, self.new):
            for label, reason in side.unsupported.items():
                self.report.notes.append(
                    f"The {side.name} models of {label} did no traffic: {reason}."
                )


def _touching(migrations: list[Migration], model_label: str) -> str | None:
    """Return the first of ``migrations`` with an operation on ``model_label``."""
    app_label, _, model_name = model_label.partition(".")
    for migration in migrations:
        if migration.app_label == app_label and any(
            operation.references_model(model_name.lower(), app_label)
            for operation in migration.operations
        ):
            return str(migration)
    return None


class _RehearsalMigrate(migrate.Command):
    """syzygy's ``migrate``, telling the rehearsal when a migration starts
    and when it is applied."""

    def __init__(self, rehearsal: _Rehearsal, stage: str, side: Side) -> None:
        super().__init__(stdout=StringIO(), stderr=StringIO())
        self.rehearsal = rehearsal
        self.stage = stage
        self.side = side
        self.applying: Migration | None = None

    def migration_progress_callback(
        self, action: str, migration: Migration | None = None, fake: bool = False
    ) -> None:
        super().migration_progress_callback(action, migration, fake)
        if action == "apply_start":
            assert migration is not None
            self.applying = migration
            self.rehearsal.events.append(
                _Event(self.stage, migration, started=time.monotonic())
            )
        elif action == "apply_success":
            assert migration is not None
            self.applying = None
            self.rehearsal.applied(self.stage, migration, (self.side,))
