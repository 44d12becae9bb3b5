from __future__ import annotations

import argparse
import json
import time
from contextlib import suppress
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser, OutputWrapper
from django.core.management.commands import migrate
from django.db import connections
from django.db.migrations import Migration

from syzygy import conf
from syzygy.autodetector import MigrationAutodetector
from syzygy.checks import stages_left_to_the_plan
from syzygy.constants import Stage
from syzygy.exceptions import (
    AmbiguousPlan,
    AmbiguousStage,
    DuplicateValues,
    UnconvertibleValues,
    ViolatingRows,
)
from syzygy.executor import (
    DeployStage,
    LockWaitsExhausted,
    PlanProbed,
    deploy_stage,
    has_recorded_migrations,
)
from syzygy.monitor import BlockingSession, describe_sessions
from syzygy.plan import Origin, PlannedStep, inverted
from syzygy.quorum import (
    ApplierLost,
    QuorumDissolved,
    QuorumError,
    QuorumTimeout,
    QuorumUnavailable,
    get_quorum_backend,
    plan_namespace,
)
from syzygy.quorum.backends.base import Outcome, Party
from syzygy.sql import plan_sql

# What waiting parties say when the applying party failed, as in 1.x.
REMOTE_FAILURE = "Error encountered by remote party while applying migration, aborting."
# What a party that waited too long says first, as in 1.x.
QUORUM_TIMEOUT = "Migration plan quorum timeout"
# What migrate --plan --format accepts.
PLAN_FORMATS = ("text", "json")


class QuorumTimedOut(CommandError, RuntimeError):
    """A party of ``migrate --quorum`` waited longer than ``--quorum-timeout``.

    A ``RuntimeError`` too, which django-syzygy 1.x raised.
    """


class Command(migrate.Command):
    # Django checks that migrate and makemigrations detect changes alike.
    autodetector = MigrationAutodetector
    help = (
        "Updates database schema. With --pre-deploy, applies only the "
        "migrations that must run before the new code is deployed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--pre-deploy",
            action="store_true",
            help=(
                "Apply only the pre-deploy migrations: those the running code "
                "tolerates and the new code needs."
            ),
        )
        # django-syzygy 1.x stored --pre-deploy as this option, which callers
        # of call_command("migrate", stage=Stage.PRE_DEPLOY) still pass.
        parser.add_argument("--stage", type=_stage, help=argparse.SUPPRESS)
        parser.add_argument(
            "--format",
            choices=PLAN_FORMATS,
            default="text",
            help=(
                "With --plan: the plan as text (the default), or as one JSON "
                "document on standard output, for CI and deploy tooling."
            ),
        )
        parser.add_argument(
            "--sql",
            action="store_true",
            help=(
                "With --plan: show under each planned migration the SQL it "
                "runs, as sqlmigrate shows it."
            ),
        )
        parser.add_argument(
            "--quorum",
            type=_quorum_size,
            default=1,
            help=(
                "Number of parties, such as clusters sharing the database, that "
                "run this command with the same plan: it is applied once, by one "
                "of them, when all have joined."
            ),
        )
        parser.add_argument(
            "--quorum-timeout",
            type=_seconds,
            default=1800.0,
            help=(
                "Seconds to wait for the other parties to join, then again for "
                "the plan to be applied (default: 1800)."
            ),
        )

    def handle(
        self,
        *args: Any,
        pre_deploy: bool = False,
        stage: Stage | str | None = None,
        quorum: int = 1,
        quorum_timeout: float = 1800.0,
        format: str = "text",
        sql: bool = False,
        **options: Any,
    ) -> None:
        _check_quorum_options(quorum, quorum_timeout)
        _check_plan_options(options["plan"], format, sql)
        # A JSON document is alone on standard output.
        notices = self.stderr if format == "json" else self.stdout
        if stage is not None:
            pre_deploy = pre_deploy or _stage(stage) is Stage.PRE_DEPLOY
        try:
            conf.validate_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        stage = Stage.PRE_DEPLOY if pre_deploy else Stage.POST_DEPLOY
        if pre_deploy and not has_recorded_migrations(connections[options["database"]]):
            if options["verbosity"] >= 1:
                notices.write(
                    f"No migration is recorded on database {options['database']!r}: "
                    "there is no deployed code to protect, so the whole plan is "
                    "applied.",
                    self.style.WARNING,
                )
            stage = Stage.POST_DEPLOY
        try:
            with deploy_stage(stage, probe=options["plan"]) as current:
                current.on_lock_retry = self._report_lock_retry
                current.output = _Progress(self.stdout)
                if options["plan"]:
                    self._show_plan(current, format, sql, *args, **options)
                # --check and --prune apply nothing: nothing to coordinate.
                elif quorum > 1 and not (
                    options["check_unapplied"] or options["prune"]
                ):
                    self._migrate_in_quorum(
                        current, quorum, quorum_timeout, *args, **options
                    )
                else:
                    super().handle(*args, **options)
                    # --check and --prune apply nothing.
                    if not (options["check_unapplied"] or options["prune"]):
                        self._report_postponed(current, options["verbosity"])
        except (
            AmbiguousPlan,
            AmbiguousStage,
            DuplicateValues,
            LockWaitsExhausted,
            UnconvertibleValues,
            ViolatingRows,
        ) as exc:
            raise CommandError(str(exc)) from exc

    def check(self, *args: Any, **kwargs: Any) -> None:
        # The plan needs stages only if it is a pre-deploy plan, and only for
        # the migrations it holds: it says so itself.
        with stages_left_to_the_plan():
            super().check(*args, **kwargs)

    def _report_lock_retry(
        self, migration: Migration, delay: float, blockers: list[BlockingSession]
    ) -> None:
        if self.verbosity >= 1:
            if blockers:
                cause = f": blocked by {describe_sessions(blockers)}"
            else:
                cause = " (a transaction holds a lock it needs)"
            self.stdout.write(
                f" lock wait timed out{cause}; retrying in {delay:.2f} s",
                self.style.WARNING,
            )

    def _migrate_in_quorum(
        self,
        current: DeployStage,
        quorum: int,
        timeout: float,
        *args: Any,
        **options: Any,
    ) -> None:
        """Apply the plan once for ``quorum`` parties that run this command."""
        try:
            backend = get_quorum_backend()
        except ImproperlyConfigured as exc:
            raise CommandError(f"--quorum {quorum}: {exc}") from exc
        # Django works out the plan from the options; the probe stops it there.
        with deploy_stage(current.stage, probe=True) as probe, suppress(PlanProbed):
            super().handle(*args, **options)
        if not probe.plan:
            super().handle(*args, **options)
            return
        namespace = plan_namespace(current.stage, options["database"], probe.plan)
        try:
            with backend.party(namespace, quorum) as party:
                self._wait_for_quorum(party, timeout, options["verbosity"])
                if party.applies:
                    started = time.monotonic()
                    try:
                        with party.applying():
                            super().handle(*args, **options)
                    except QuorumUnavailable as exc:
                        # Only publishing the success can fail this way.
                        raise CommandError(
                            f"The plan was applied, but the other parties can't "
                            f"learn it: {exc}"
                        ) from exc
                    self._say(
                        f"Plan applied in {time.monotonic() - started:.3f}s.",
                        options["verbosity"],
                    )
                    self._report_postponed(current, options["verbosity"])
                    if party.outcome is Outcome.LOST:
                        self.stderr.write(
                            "The other parties gave this one up as lost before it "
                            "finished: they exited with an error although the plan "
                            "was applied."
                        )
                else:
                    started = time.monotonic()
                    party.wait_for_outcome(timeout)
                    self._say(
                        f"Migrations applied by remote party {party.applier}, "
                        f"after a wait of {time.monotonic() - started:.3f}s.",
                        options["verbosity"],
                    )
                    self._report_postponed(probe, options["verbosity"])
        except ApplierLost as exc:
            raise CommandError(
                f"{exc} Aborting; run the command again to retry."
            ) from exc
        except QuorumDissolved as exc:
            raise CommandError(REMOTE_FAILURE) from exc
        except QuorumTimeout as exc:
            raise QuorumTimedOut(f"{QUORUM_TIMEOUT}. {exc}") from exc
        except QuorumError as exc:
            raise CommandError(str(exc)) from exc

    def _wait_for_quorum(self, party: Party, timeout: float, verbosity: int) -> None:
        joined = f"Joined quorum {party.namespace!r}"
        if party.position is not None:
            joined += f" as party {party.position} of {party.quorum}"
        if party.applies:
            joined += "."
        else:
            joined += f"; waiting for all {party.quorum} parties to join..."
        self._say(joined, verbosity)
        started = time.monotonic()
        party.wait_for_quorum(timeout)
        reached = f"Quorum reached after {time.monotonic() - started:.3f}s: "
        if party.applies:
            self._say(reached + "this party applies the plan.", verbosity)
        else:
            applier = party.applier or "a remote party"
            self._say(
                reached + f"waiting for {applier} to apply the plan...", verbosity
            )

    def _say(self, message: str, verbosity: int) -> None:
        if verbosity >= 1:
            self.stdout.write(message, self.style.MIGRATE_HEADING)

    def _report_postponed(self, current: DeployStage, verbosity: int) -> None:
        if verbosity < 1 or current.full_plan is None or current.plan is None:
            return
        kept = {migration for migration, _ in current.plan}
        postponed = [
            migration for migration, _ in current.full_plan if migration not in kept
        ]
        if postponed:
            self.stdout.write(
                "Postponed until after the deploy:", self.style.MIGRATE_HEADING
            )
            for migration in postponed:
                self.stdout.write(f"  {migration}")

    def _show_plan(
        self, current: DeployStage, format: str, sql: bool, *args: Any, **options: Any
    ) -> None:
        """Print the plan, each migration with its stage and the stage's origin."""
        # Django works out the plan from the options; the probe stops it there.
        with suppress(PlanProbed):
            super().handle(*args, **options)
        assert current.plan is not None
        assert current.loader is not None
        steps = current.planned_steps()
        kept = {(migration.app_label, migration.name) for migration, _ in current.plan}
        planned = [step for step in steps if step.key in kept]
        postponed = [step for step in steps if step.key not in kept]
        statements = (
            plan_sql(
                current.loader,
                connections[options["database"]],
                [(step.migration, step.backwards) for step in planned],
            )
            if sql
            else [None] * len(planned)
        )
        if format == "json":
            document = {
                "database": options["database"],
                "stage": current.stage.label,
                "planned": [
                    self._step_document(step, lines)
                    for step, lines in zip(planned, statements, strict=True)
                ],
                "postponed": [self._step_document(step) for step in postponed],
            }
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write("Planned operations:", self.style.MIGRATE_LABEL)
            if not planned:
                self.stdout.write("  No planned migration operations.")
            for step, lines in zip(planned, statements, strict=True):
                self._write_step(step, lines)
            if postponed:
                self.stdout.write(
                    "Postponed until after the deploy:", self.style.MIGRATE_LABEL
                )
                for step in postponed:
                    self._write_step(step)
        if options["check_unapplied"] and planned:
            raise SystemExit(1)

    def _write_step(self, step: PlannedStep, sql: list[str] | None = None) -> None:
        self.stdout.write(
            f"{step.migration}  [{_stage_description(step)}]",
            self.style.MIGRATE_HEADING,
        )
        if sql is not None:
            for line in sql:
                self.stdout.write(f"    {line}")
            return
        for operation in step.migration.operations:
            message, is_error = self.describe_operation(operation, step.backwards)
            self.stdout.write(
                "    " + message, self.style.WARNING if is_error else None
            )

    def _step_document(
        self, step: PlannedStep, sql: list[str] | None = None
    ) -> dict[str, Any]:
        """Return a step of the plan as an entry of ``--format json``."""
        document: dict[str, Any] = {
            "app": step.migration.app_label,
            "name": step.migration.name,
            "stage": None if step.stage is None else step.stage.label,
            "origin": step.origin.value,
            "follows": None if step.follows is None else str(step.cause.migration),
            "backwards": step.backwards,
            "atomic": step.migration.atomic,
            "operations": [
                self.describe_operation(operation, step.backwards)[0]
                for operation in step.migration.operations
            ],
        }
        if sql is not None:
            document["sql"] = sql
        return document


def _stage_description(step: PlannedStep) -> str:
    if step.origin is Origin.BASELINE:
        return "no stage, baseline"
    if step.stage is None:
        return "ambiguous stage"
    parts = [step.stage.label]
    if step.backwards and step.origin is not Origin.NO_OPERATIONS:
        parts.append(f"reverting a {inverted(step.stage).label} migration")
    parts.append(step.origin.value)
    if step.follows is not None:
        parts.append(f"follows {step.cause.migration}")
    return ", ".join(parts)


def _stage(value: Stage | str) -> Stage:
    try:
        return value if isinstance(value, Stage) else Stage[value]
    except KeyError:
        raise CommandError(
            f"--stage must be PRE_DEPLOY or POST_DEPLOY, not {value!r}."
        ) from None


def _quorum_size(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of parties, at least 1, not {value!r}"
        ) from None


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, at least 0, not {value!r}"
        ) from None


def _check_plan_options(plan: bool, format: object, sql: bool) -> None:
    """Reject ``--format`` and ``--sql`` without ``--plan``, and unknown formats."""
    if format not in PLAN_FORMATS:
        raise CommandError(
            f"--format must be one of {', '.join(PLAN_FORMATS)}, not {format!r}."
        )
    if not plan:
        for option, given in (("--format json", format == "json"), ("--sql", sql)):
            if given:
                raise CommandError(f"{option} shows the plan: add --plan.")


def _check_quorum_options(quorum: object, timeout: object) -> None:
    """Reject values that ``call_command`` passes without parsing them."""
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
        raise CommandError(
            f"--quorum must be a whole number of parties, at least 1, not {quorum!r}."
        )
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not timeout >= 0
    ):
        raise CommandError(
            f"--quorum-timeout must be a number of seconds, at least 0, not "
            f"{timeout!r}."
        )


class _Progress:
    """Let progress bars write to a command's output as it is, unterminated."""

    def __init__(self, output: OutputWrapper) -> None:
        self.output = output

    def write(self, text: str) -> int:
        self.output.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self.output.flush()

    def isatty(self) -> bool:
        return self.output.isatty()
