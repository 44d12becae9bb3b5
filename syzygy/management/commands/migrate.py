from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import migrate
from django.db import connections
from django.db.migrations import Migration

from syzygy.autodetector import MigrationAutodetector
from syzygy.constants import Stage
from syzygy.exceptions import AmbiguousPlan, AmbiguousStage
from syzygy.executor import (
    DeployStage,
    LockWaitsExhausted,
    PlanProbed,
    deploy_stage,
    has_recorded_migrations,
)
from syzygy.plan import Origin, PlannedStep, inverted


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

    def handle(self, *args: Any, pre_deploy: bool = False, **options: Any) -> None:
        stage = Stage.PRE_DEPLOY if pre_deploy else Stage.POST_DEPLOY
        if pre_deploy and not has_recorded_migrations(connections[options["database"]]):
            if options["verbosity"] >= 1:
                self.stdout.write(
                    f"No migration is recorded on database {options['database']!r}: "
                    "there is no deployed code to protect, so the whole plan is "
                    "applied.",
                    self.style.WARNING,
                )
            stage = Stage.POST_DEPLOY
        try:
            with deploy_stage(stage, probe=options["plan"]) as current:
                current.on_lock_retry = self._report_lock_retry
                if options["plan"]:
                    self._show_plan(current, *args, **options)
                else:
                    super().handle(*args, **options)
                    self._report_postponed(current, options["verbosity"])
        except (AmbiguousPlan, AmbiguousStage, LockWaitsExhausted) as exc:
            raise CommandError(str(exc)) from exc

    def _report_lock_retry(self, migration: Migration, delay: float) -> None:
        if self.verbosity >= 1:
            self.stdout.write(
                f" lock wait timed out (a transaction holds a lock it needs); "
                f"retrying in {delay:.2f} s",
                self.style.WARNING,
            )

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

    def _show_plan(self, current: DeployStage, *args: Any, **options: Any) -> None:
        """Print the plan, each migration with its stage and the stage's origin."""
        # Django works out the plan from the options; the probe stops it there.
        with suppress(PlanProbed):
            super().handle(*args, **options)
        assert current.plan is not None
        steps = current.planned_steps()
        kept = {(migration.app_label, migration.name) for migration, _ in current.plan}
        self.stdout.write("Planned operations:", self.style.MIGRATE_LABEL)
        if not current.plan:
            self.stdout.write("  No planned migration operations.")
        for step in steps:
            if step.key in kept:
                self._write_step(step)
        postponed = [step for step in steps if step.key not in kept]
        if postponed:
            self.stdout.write(
                "Postponed until after the deploy:", self.style.MIGRATE_LABEL
            )
            for step in postponed:
                self._write_step(step)
        if options["check_unapplied"] and current.plan:
            raise SystemExit(1)

    def _write_step(self, step: PlannedStep) -> None:
        self.stdout.write(
            f"{step.migration}  [{_stage_description(step)}]",
            self.style.MIGRATE_HEADING,
        )
        for operation in step.migration.operations:
            message, is_error = self.describe_operation(operation, step.backwards)
            self.stdout.write(
                "    " + message, self.style.WARNING if is_error else None
            )


def _stage_description(step: PlannedStep) -> str:
    if step.stage is None:
        return "ambiguous stage"
    parts = [step.stage.label]
    if step.backwards and step.origin is not Origin.NO_OPERATIONS:
        parts.append(f"reverting a {inverted(step.stage).label} migration")
    parts.append(step.origin.value)
    if step.follows is not None:
        parts.append(f"follows {step.cause.migration}")
    return ", ".join(parts)
