"""Measure what syzygy costs ``check`` and ``migrate --plan`` on a large project.

The project comes from ``generate_project.py`` (generated when missing or
made from other arguments). Its SQLite database holds only the
``django_migrations`` table, created by Django's ``MigrationRecorder``, in
which the first ``--applied`` migrations of every generated app and every
migration of the contrib apps are recorded as applied with a bulk insert.
No other table exists: really migrating that database would fail, but
``check`` and ``migrate --plan`` only read the migration history, and
creating thousands of tables would take minutes.

Every command runs in a fresh interpreter, without syzygy (not in
``INSTALLED_APPS``) and with it, interleaved, after one untimed warm-up run
each (which also writes the bytecode caches). Each run must exit 0 and print
the expected plan. The script prints the median and the minimum wall-clock
times and their ratios; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import django
from generate_project import (
    DEFAULT_OUT,
    SETTINGS_MODULE,
    ProjectSpec,
    generate,
    is_up_to_date,
)

TARGET_RATIO = 1.10
DATABASE_NAME = "plan.sqlite3"

# `migrate --plan` prints one heading line per migration; syzygy appends the
# stage in brackets.
STOCK_STEP = re.compile(r"^(?P<key>\w+\.\d{4}\w*)$")
SYZYGY_STEP = re.compile(
    r"^(?P<key>\w+\.\d{4}\w*)  \[(?P<stage>pre-deploy|post-deploy)\b"
)
POSTPONED_HEADING = "Postponed until after the deploy:"


@dataclass(frozen=True)
class Expected:
    """What the plans of the prepared database contain."""

    apps: int
    unapplied: frozenset[str]
    removals: frozenset[str]


@dataclass(frozen=True)
class Invocation:
    """A ``manage.py`` command run with or without syzygy installed."""

    args: tuple[str, ...]
    syzygy: bool

    def __str__(self) -> str:
        installed = "with" if self.syzygy else "without"
        return f"manage.py {' '.join(self.args)} ({installed} syzygy)"


@dataclass(frozen=True)
class Comparison:
    """A row of the table: a stock command against its syzygy counterpart."""

    label: str
    without: Invocation
    with_syzygy: Invocation
    target: float | None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=ProjectSpec.apps)
    parser.add_argument("--migrations", type=int, default=ProjectSpec.migrations)
    parser.add_argument("--seed", type=int, default=ProjectSpec.seed)
    parser.add_argument(
        "--applied",
        type=int,
        default=None,
        help="migrations recorded as applied per app (default: 80%% of --migrations)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per command")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="regenerate the project even if present",
    )
    args = parser.parse_args(argv)
    if args.applied is None:
        args.applied = args.migrations * 4 // 5
    if not 1 <= args.applied < args.migrations:
        parser.error("--applied must be at least 1 and less than --migrations")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def prepare_database(
    project: Path, database: Path, apps: int, applied: int
) -> Expected:
    """Record a prefix of every app's migrations as applied in a new database.

    Set Django up in this process with the project's settings (without
    syzygy), create the ``django_migrations`` table and bulk insert the rows.
    Return what the plan of the remaining migrations contains.
    """
    database.unlink(missing_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ["BENCH_DATABASE"] = str(database)
    os.environ.pop("BENCH_SYZYGY", None)
    sys.path.insert(0, str(project))
    django.setup()

    from django.db import connection, transaction
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder
    from django.utils import timezone

    generated = {f"app{index:03d}" for index in range(apps)}
    names: dict[str, list[str]] = {}
    for app_label, name in MigrationLoader(None).disk_migrations:
        names.setdefault(app_label, []).append(name)
    recorder = MigrationRecorder(connection)
    recorder.ensure_schema()
    now = timezone.now()
    rows = [
        recorder.Migration(app=app_label, name=name, applied=now)
        for app_label, app_names in names.items()
        for name in sorted(app_names)[: applied if app_label in generated else None]
    ]
    with transaction.atomic():
        recorder.Migration.objects.bulk_create(rows)

    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    unapplied = frozenset(
        f"{migration.app_label}.{migration.name}" for migration, _ in plan
    )
    removals = frozenset(
        f"{app_label}.{sorted(app_names)[-1]}"
        for app_label, app_names in names.items()
        if app_label in generated
    )
    connection.close()
    if not unapplied >= removals or any(
        key.split(".")[0] not in generated for key in unapplied
    ):
        raise SystemExit(
            f"Unexpected plan on the prepared database: {sorted(unapplied)}"
        )
    return Expected(apps=apps, unapplied=unapplied, removals=removals)


def run(project: Path, database: Path, invocation: Invocation) -> tuple[float, str]:
    """Run ``invocation`` in a fresh interpreter; return its duration and output.

    Exit with the command's output if it fails.
    """
    env = {**os.environ, "BENCH_DATABASE": str(database)}
    env.pop("BENCH_SYZYGY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if invocation.syzygy:
        env["BENCH_SYZYGY"] = "1"
    command = [sys.executable, "manage.py", *invocation.args]
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    duration = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(
            f"{invocation} exited with {completed.returncode}.\n"
            f"--- stdout (end) ---\n{completed.stdout[-3000:]}\n"
            f"--- stderr (end) ---\n{completed.stderr[-3000:]}"
        )
    return duration, completed.stdout


def _fail(invocation: Invocation, problem: str, output: str) -> None:
    raise SystemExit(
        f"{invocation}: {problem}.\n--- stdout (start) ---\n{output[:3000]}"
    )


def _plan_lines(invocation: Invocation, output: str) -> list[str]:
    lines = output.splitlines()
    if not lines or lines[0] != "Planned operations:":
        _fail(invocation, "the output doesn't start with the plan", output)
    return lines[1:]


def check_check_output(invocation: Invocation, output: str, expected: Expected) -> None:
    """Verify that ``check`` found no issue."""
    if "System check identified no issues" not in output:
        _fail(invocation, "the check reported issues", output)


def check_stock_plan(invocation: Invocation, output: str, expected: Expected) -> None:
    """Verify that Django's plan lists exactly the unapplied migrations."""
    keys = [
        match["key"]
        for line in _plan_lines(invocation, output)
        if (match := STOCK_STEP.match(line))
    ]
    if len(keys) != len(expected.unapplied) or set(keys) != expected.unapplied:
        _fail(
            invocation,
            f"the plan has {len(keys)} migrations, not the unapplied ones",
            output,
        )


def _syzygy_steps(
    invocation: Invocation, lines: list[str], output: str
) -> list[tuple[str, str]]:
    steps = [
        (match["key"], match["stage"])
        for line in lines
        if (match := SYZYGY_STEP.match(line))
    ]
    headings = [line for line in lines if line and not line.startswith(" ")]
    if len(steps) != len(headings):
        _fail(invocation, "some planned migration has no stage", output)
    return steps


def check_syzygy_plan(invocation: Invocation, output: str, expected: Expected) -> None:
    """Verify that syzygy's full plan lists every unapplied migration with its stage."""
    lines = _plan_lines(invocation, output)
    if POSTPONED_HEADING in lines:
        _fail(invocation, "a plan without --pre-deploy postpones migrations", output)
    steps = _syzygy_steps(invocation, lines, output)
    if (
        len(steps) != len(expected.unapplied)
        or {key for key, _ in steps} != expected.unapplied
    ):
        _fail(
            invocation, "the plan doesn't list exactly the unapplied migrations", output
        )
    post_deploy = {key for key, stage in steps if stage == "post-deploy"}
    if post_deploy != expected.removals:
        _fail(invocation, "the post-deploy migrations aren't the removals", output)


def check_pre_deploy_plan(
    invocation: Invocation, output: str, expected: Expected
) -> None:
    """Verify that the pre-deploy plan postpones the removals and keeps the rest."""
    lines = _plan_lines(invocation, output)
    if POSTPONED_HEADING not in lines:
        _fail(invocation, "the pre-deploy plan postpones nothing", output)
    split = lines.index(POSTPONED_HEADING)
    kept = _syzygy_steps(invocation, lines[:split], output)
    postponed = _syzygy_steps(invocation, lines[split + 1 :], output)
    if not kept or any(stage != "pre-deploy" for _, stage in kept):
        _fail(invocation, "the kept steps aren't all pre-deploy", output)
    if {key for key, _ in kept} != expected.unapplied - expected.removals:
        _fail(invocation, "the kept steps aren't the unapplied non-removals", output)
    postponed_keys = [key for key, _ in postponed]
    if len(postponed_keys) != expected.apps or set(postponed_keys) != expected.removals:
        _fail(invocation, "the postponed steps aren't exactly the removals", output)


def comparisons() -> tuple[list[Comparison], dict[Invocation, Callable[..., None]]]:
    """Return the table's rows and the output check of every invocation."""
    check = ("check",)
    check_database = ("check", "--database", "default")
    plan = ("migrate", "--plan")
    pre_deploy_plan = ("migrate", "--pre-deploy", "--plan")
    unchecked_plan = (*plan, "--skip-checks")
    unchecked_pre_deploy_plan = (*pre_deploy_plan, "--skip-checks")
    rows = [
        Comparison(
            "check", Invocation(check, False), Invocation(check, True), TARGET_RATIO
        ),
        Comparison(
            "migrate --plan -> --pre-deploy --plan",
            Invocation(plan, False),
            Invocation(pre_deploy_plan, True),
            TARGET_RATIO,
        ),
        Comparison(
            "migrate --plan", Invocation(plan, False), Invocation(plan, True), None
        ),
        # The system checks, syzygy.E001 among them, skipped.
        Comparison(
            "the same two with --skip-checks",
            Invocation(unchecked_plan, False),
            Invocation(unchecked_pre_deploy_plan, True),
            None,
        ),
        Comparison(
            "check --database default",
            Invocation(check_database, False),
            Invocation(check_database, True),
            None,
        ),
    ]
    checkers: dict[Invocation, Callable[..., None]] = {
        Invocation(check, False): check_check_output,
        Invocation(check, True): check_check_output,
        Invocation(check_database, False): check_check_output,
        Invocation(check_database, True): check_check_output,
        Invocation(plan, False): check_stock_plan,
        Invocation(plan, True): check_syzygy_plan,
        Invocation(pre_deploy_plan, True): check_pre_deploy_plan,
        Invocation(unchecked_plan, False): check_stock_plan,
        Invocation(unchecked_pre_deploy_plan, True): check_pre_deploy_plan,
    }
    return rows, checkers


def measure(
    project: Path,
    database: Path,
    expected: Expected,
    checkers: dict[Invocation, Callable[..., None]],
    repeat: int,
) -> dict[Invocation, list[float]]:
    """Time every invocation ``repeat`` times, interleaved, after a warm-up run."""
    samples: dict[Invocation, list[float]] = {invocation: [] for invocation in checkers}
    for round_number in range(repeat + 1):
        for invocation, checker in checkers.items():
            duration, output = run(project, database, invocation)
            checker(invocation, output, expected)
            if round_number > 0:
                samples[invocation].append(duration)
        label = "warm-up" if round_number == 0 else f"run {round_number}/{repeat}"
        print(f"  {label} done", file=sys.stderr, flush=True)
    return samples


def report(rows: list[Comparison], samples: dict[Invocation, list[float]]) -> None:
    """Print the table of timings and the ratios against their targets."""
    header = (
        f"{'command':<40} {'without syzygy s':>18} {'with syzygy s':>18} {'ratio':>13}",
        f"{'':<40} {'median    min':>18} {'median    min':>18} {'median   min':>13}",
    )
    print("\n".join(header))
    print("-" * len(header[0]))
    for row in rows:
        without, with_syzygy = samples[row.without], samples[row.with_syzygy]
        medians = statistics.median(without), statistics.median(with_syzygy)
        minimums = min(without), min(with_syzygy)
        print(
            f"{row.label:<40} "
            f"{medians[0]:>9.3f} {minimums[0]:>8.3f} "
            f"{medians[1]:>9.3f} {minimums[1]:>8.3f} "
            f"{medians[1] / medians[0]:>7.3f} {minimums[1] / minimums[0]:>5.3f}"
        )
    print()
    print("Ratios (with / without syzygy, medians):")
    for row in rows:
        ratio = statistics.median(samples[row.with_syzygy]) / statistics.median(
            samples[row.without]
        )
        if row.target is None:
            verdict = "(informational, no target)"
        else:
            verdict = f"target <= {row.target:.2f}: " + (
                "met" if ratio <= row.target else "MISSED"
            )
        print(f"  {row.label:<40} {ratio:.3f}  {verdict}")


def main(argv: list[str] | None = None) -> None:
    """Generate the project if needed, prepare its database and time the commands."""
    args = parse_args(argv)
    spec = ProjectSpec(apps=args.apps, migrations=args.migrations, seed=args.seed)
    project: Path = args.out.resolve()
    if args.regenerate or not is_up_to_date(project, spec):
        print(f"Generating the project in {project} ...", file=sys.stderr, flush=True)
        generate(project, spec)
    database = project / DATABASE_NAME
    expected = prepare_database(project, database, spec.apps, args.applied)
    rows, checkers = comparisons()
    print(
        f"Timing {len(checkers)} commands, {args.repeat} runs each ...",
        file=sys.stderr,
        flush=True,
    )
    print(
        f"Project: {spec.apps} apps x {spec.migrations} migrations "
        f"(+ django.contrib.auth and contenttypes), "
        f"{args.applied} per app recorded as applied."
    )
    print(
        f"Plan: {len(expected.unapplied)} unapplied migrations, of which "
        f"{len(expected.removals)} post-deploy removals."
    )
    print(
        f"Wall-clock seconds per run, fresh interpreter each, {args.repeat} runs; "
        f"Python {sys.version.split()[0]}, Django {django.get_version()}.\n",
        flush=True,
    )
    samples = measure(project, database, expected, checkers, args.repeat)
    report(rows, samples)


if __name__ == "__main__":
    main()
