"""The stage-aware migration executor and the one place it is installed."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from . import conf
from .batches import Stream
from .compat import get_migrate_executor, set_migrate_executor, unrendered_copy
from .constants import Stage
from .locks import LockRetriesExhausted, bounded_lock_waits, retrying_lock_timeouts
from .monitor import BlockingSession, SessionMonitor, describe_sessions
from .plan import Plan, PlannedStep, plan_stages, pre_deploy_steps

__all__ = (
    "DeployStage",
    "LockWaitsExhausted",
    "PlanProbed",
    "StageAwareMigrationExecutor",
    "deploy_output",
    "deploy_stage",
    "has_recorded_migrations",
)


class PlanProbed(Exception):
    """Stop a ``migrate`` run that was only asked for its plan."""


@dataclass
class DeployStage:
    """The stage a ``migrate`` run applies, and the plan its executor made.

    A probing run stops with ``PlanProbed`` as soon as the plan is known.
    """

    stage: Stage
    probe: bool = False
    planning: bool = False
    on_lock_retry: Callable[[Migration, float, list[BlockingSession]], None] = field(
        default=lambda migration, delay, blockers: None, repr=False
    )
    output: Stream | None = field(default=None, repr=False)
    monitors: dict[str, SessionMonitor] = field(default_factory=dict, repr=False)
    full_plan: Plan | None = None
    plan: Plan | None = None
    loader: MigrationLoader | None = field(default=None, repr=False)
    steps: list[PlannedStep] | None = field(default=None, repr=False)

    def planned_steps(self) -> list[PlannedStep]:
        """Return every step of the full plan with its stage."""
        assert self.full_plan is not None
        assert self.loader is not None
        if self.steps is None:
            self.steps = plan_stages(self.full_plan, self.loader.graph)
        return self.steps

    def monitor(
        self, connection: BaseDatabaseWrapper, policy: conf.LockPolicy
    ) -> SessionMonitor:
        """Return the monitor of the sessions of ``connection``'s database."""
        if connection.alias not in self.monitors:
            self.monitors[connection.alias] = SessionMonitor(
                connection, policy, self.output
            )
        return self.monitors[connection.alias]


_current: ContextVar[DeployStage | None] = ContextVar(
    "syzygy_deploy_stage", default=None
)


class StageAwareMigrationExecutor(MigrationExecutor):
    """A ``MigrationExecutor`` whose plans keep to the current deploy stage."""

    def migration_plan(self, targets: Any, clean_start: bool = False) -> Plan:
        current = _current.get()
        # `clean_start` plans serve to rebuild the project state, never to
        # apply; Django plans again from inside a plan whose target was
        # replaced by a squashed migration: only the outermost plan is staged.
        if current is None or clean_start or current.planning:
            return super().migration_plan(targets, clean_start=clean_start)
        current.planning = True
        try:
            plan: Plan = super().migration_plan(targets, clean_start=clean_start)
        finally:
            current.planning = False
        current.full_plan, current.loader = plan, self.loader
        if current.stage is Stage.PRE_DEPLOY:
            steps = pre_deploy_steps(current.planned_steps(), self.loader.graph)
            plan = [(step.migration, step.backwards) for step in steps]
        current.plan = plan
        if current.probe:
            raise PlanProbed
        return plan

    def apply_migration(
        self,
        state: ProjectState,
        migration: Migration,
        fake: bool = False,
        fake_initial: bool = False,
    ) -> ProjectState:
        return self._with_bounded_lock_waits(
            super().apply_migration, state, migration, fake, fake_initial=fake_initial
        )

    def unapply_migration(
        self, state: ProjectState, migration: Migration, fake: bool = False
    ) -> ProjectState:
        return self._with_bounded_lock_waits(
            super().unapply_migration, state, migration, fake
        )

    def _with_bounded_lock_waits(
        self,
        run: Callable[..., ProjectState],
        state: ProjectState,
        migration: Migration,
        fake: bool,
        **options: Any,
    ) -> ProjectState:
        """Run a migration with bounded lock waits, retrying on lock timeouts.

        Only on PostgreSQL, in a deploy stage. An atomic migration rolls back
        whole, so it is retried whole; a non-atomic one retries its
        statements one by one (see ``bounded_lock_waits``).
        """
        current = _current.get()
        if current is None or fake or self.connection.vendor != "postgresql":
            return run(state, migration, fake, **options)
        policy = conf.lock_policy()
        monitor = current.monitor(self.connection, policy)

        def on_retry(delay: float) -> None:
            current.on_lock_retry(migration, delay, monitor.blockers())

        def attempt(attempt_state: ProjectState) -> ProjectState:
            with (
                bounded_lock_waits(self.connection, policy, on_retry),
                monitor.watching(),
            ):
                return run(attempt_state, migration, fake, **options)

        try:
            if not migration.atomic:
                return attempt(state)
            # Applying mutates the state it is given: a retry starts from a
            # copy taken before, without the rendered apps, slow to copy.
            pristine = unrendered_copy(state)
            states = itertools.chain(
                [state], (pristine.clone() for _ in itertools.count())
            )
            return retrying_lock_timeouts(
                lambda: attempt(next(states)),
                policy,
                what="its locks could not be taken",
                on_retry=on_retry,
            )
        except LockRetriesExhausted as error:
            raise LockWaitsExhausted(migration, error, monitor.blockers()) from error


class LockWaitsExhausted(Exception):
    """A migration, or a statement of a non-atomic one, timed out waiting for
    locks on every attempt; ``blockers`` are the sessions seen blocking the
    last one."""

    def __init__(
        self,
        migration: Migration,
        error: LockRetriesExhausted,
        blockers: list[BlockingSession] | None = None,
    ) -> None:
        if migration.atomic:
            outcome = "; nothing of it was applied. "
        else:
            outcome = (
                ". It is not atomic: what ran before stays applied, "
                "and running it again runs it from the start (syzygy's own "
                "operations skip what is done). "
            )
        if blockers:
            holder = (
                f"Blocked by {describe_sessions(blockers)}, which "
                f"{'holds' if len(blockers) == 1 else 'hold'} a lock on a table it "
                f"changes: run the command again once "
                f"{'it ends' if len(blockers) == 1 else 'they end'}"
            )
        else:
            holder = (
                "A long-running transaction holds a lock on a table it changes: "
                "run the command again once it ends"
            )
        super().__init__(
            f"Gave up on {migration}: {error}{outcome}{holder}, or raise "
            "SYZYGY_LOCK_RETRIES."
        )


def _stage_aware(executor_class: type[MigrationExecutor]) -> type[MigrationExecutor]:
    if issubclass(executor_class, StageAwareMigrationExecutor):
        return executor_class
    if executor_class is MigrationExecutor:
        return StageAwareMigrationExecutor
    # Keep the behaviour of an executor another package installed.
    return type(
        f"StageAware{executor_class.__name__}",
        (StageAwareMigrationExecutor, executor_class),
        {},
    )


class _ExecutorSwap:
    """Swap the ``migrate`` command's executor class while anyone needs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._replaced: type[MigrationExecutor] | None = None

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                self._replaced = get_migrate_executor()
                set_migrate_executor(_stage_aware(self._replaced))
            self._users += 1

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                assert self._replaced is not None
                set_migrate_executor(self._replaced)
                self._replaced = None


_swap = _ExecutorSwap()


@contextmanager
def deploy_stage(stage: Stage, *, probe: bool = False) -> Iterator[DeployStage]:
    """Make ``migrate`` plan for ``stage`` in this context (thread, task).

    The executor class of the ``migrate`` command is swapped while at least
    one context is open and restored exactly when the last one closes;
    which stage applies is read from a context variable, so concurrent runs
    never see each other's stage.
    """
    current = DeployStage(stage, probe)
    _swap.enter()
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)
        _swap.exit()
        for monitor in current.monitors.values():
            monitor.close()


def deploy_output() -> Stream | None:
    """Return where ``migrate`` writes progress, in a deploy stage."""
    current = _current.get()
    return None if current is None else current.output


def has_recorded_migrations(connection: BaseDatabaseWrapper) -> bool:
    """Return whether any migration was ever recorded as applied on ``connection``."""
    recorder = MigrationRecorder(connection)
    return recorder.has_table() and recorder.migration_qs.exists()
