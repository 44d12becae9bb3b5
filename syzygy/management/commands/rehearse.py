from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from syzygy.checks import stages_left_to_the_plan
from syzygy.rehearsal import RehearsalError, Report, rehearse

# What rehearse --format accepts.
FORMATS = ("text", "json")
DEFAULT_ROWS = 100
# The exit status of a command interrupted with Ctrl-C, as shells report it.
INTERRUPTED = 130


class Command(BaseCommand):
    help = (
        "Rehearses the deploy of the unapplied migrations on a scratch "
        "database: the code deployed now and the new code query every model "
        "at each step, and each query that fails is reported with the "
        "migration responsible. The project's database is only read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help=(
                "The database whose applied migrations are the code deployed "
                'now (default: "default"). A scratch database is made on its '
                "server; it is never changed."
            ),
        )
        parser.add_argument(
            "--rows",
            type=_whole_number,
            default=DEFAULT_ROWS,
            help=f"Rows seeded in every model (default: {DEFAULT_ROWS}).",
        )
        parser.add_argument(
            "--seed",
            type=_whole_number,
            default=0,
            help="Seed of the generated values (default: 0).",
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="text",
            help="A table (the default), or one JSON document, for CI.",
        )

    def check(self, *args: Any, **kwargs: Any) -> None:
        # As for migrate: the pre-deploy plan says itself which stages it needs.
        with stages_left_to_the_plan():
            super().check(*args, **kwargs)

    def handle(
        self,
        *args: Any,
        database: str = DEFAULT_DB_ALIAS,
        rows: int = DEFAULT_ROWS,
        seed: int = 0,
        format: str = "text",
        **options: Any,
    ) -> None:
        if database not in connections:
            raise CommandError(
                f"--database must be one of {', '.join(connections)}, not "
                f"{database!r}.",
                returncode=2,
            )
        if format not in FORMATS:
            raise CommandError(
                f"--format must be one of {', '.join(FORMATS)}, not {format!r}.",
                returncode=2,
            )
        for option, value in (("--rows", rows), ("--seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CommandError(
                    f"{option} must be a whole number, at least 0, not {value!r}.",
                    returncode=2,
                )
        try:
            report = rehearse(database, rows, seed)
        except RehearsalError as error:
            raise CommandError(str(error), returncode=2) from error
        except KeyboardInterrupt:
            # The scratch database is dropped by then: no traceback to read.
            self.stderr.write("Interrupted: the scratch database was dropped.")
            raise SystemExit(INTERRUPTED) from None
        if format == "json":
            self.stdout.write(json.dumps(report.as_document(), indent=2))
        else:
            self._write(report)
        if not report.passed:
            raise SystemExit(1)

    def _write(self, report: Report) -> None:
        self.stdout.write(
            f"Deploy rehearsed on a scratch database for {report.database!r} "
            f"({report.vendor}): {_count(report.deployed, 'migration')} deployed, "
            f"{len(report.migrations)} in the release, "
            f"{_count(report.rows, 'row')} per model.",
            self.style.MIGRATE_HEADING,
        )
        for note in report.notes:
            self.stdout.write(f"  {note}")
        table = report.rows_by_step()
        if table:
            width = max(len(migration) for migration, *_ in table)
            self.stdout.write(
                f"  {'Migration':<{width}}  {'Stage':<11}  {'Stall':>7}  Failures",
                self.style.MIGRATE_LABEL,
            )
            for migration, stage, stall, failures in table:
                shown = "-" if stall is None else f"{stall:.3f}s"
                line = f"  {migration:<{width}}  {stage:<11}  {shown:>7}  {failures}"
                self.stdout.write(line, self.style.ERROR if failures else None)
        if report.not_rehearsed:
            self.stdout.write(
                "Not rehearsed (these queries already fail with the deployed "
                "migrations alone):",
                self.style.WARNING,
            )
            for failure in report.not_rehearsed:
                self.stdout.write(
                    f"  {failure.side} {failure.model} {failure.operation}: "
                    f"{failure.error}: {failure.message}"
                )
        if report.failures:
            self.stdout.write("Failing queries:", self.style.ERROR)
            for query in report.failures:
                failure = query.failure
                if query.step == "rollout":
                    since = "at the rollout"
                    if query.migration is not None:
                        needs = "needs" if failure.side == "new" else "after"
                        since += f" ({needs} {query.migration})"
                else:
                    since = f"since {query.migration} ({query.step})"
                self.stdout.write(
                    f"  {failure.side} {failure.model} {failure.operation} "
                    f"{since}: {failure.error}: {failure.message}"
                )
            self.stdout.write(
                f"{_count(len(report.failures), 'query')} failed.".replace(
                    "querys", "queries"
                ),
                self.style.ERROR,
            )
        else:
            self.stdout.write("No query failed.", self.style.SUCCESS)


def _whole_number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(
            f"must be a whole number, at least 0, not {value!r}"
        )
    return number


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
