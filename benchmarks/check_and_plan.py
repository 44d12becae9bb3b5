"""Measure what syzygy costs ``check``, ``runserver`` and ``migrate --plan``.

The project comes from ``generate_project.py`` (generated when missing or
made from other arguments). Its SQLite database holds only the
``django_migrations`` table, created by Django's ``MigrationRecorder``, in
which the first ``--applied`` migrations of every generated app and every
migration of the contrib apps are recorded as applied with a bulk insert.
No other table exists: really migrating that database would fail, but
``check``, ``runserver``'s start-up and ``migrate --plan`` only read the
migration history, and creating thousands of tables would take minutes.

Every command runs in a fresh interpreter, without syzygy (not in
``INSTALLED_APPS``) and with it. ``runserver --noreload`` is timed from its
start until a TCP connection to its port succeeds, then interrupted. Each
round runs, for every row of the table, the command without syzygy and its
counterpart with it back to back, alternating which goes first from one
round to the next; their ratio is one sample of the row's pair ratio. One
untimed warm-up round (which also writes the bytecode caches) comes first.
Each run must succeed and print the expected output. The script prints the
median and the minimum wall-clock times, the ratios of the medians and of
the minimums, and the median of the pair ratios, which it compares with the
targets; it asserts nothing about the timings.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import django
from generate_project import (
    DEFAULT_OUT,
    SETTINGS_MODULE,
    ProjectSpec,
    generate,
    is_up_to_date,
)

# Targets on the median of the pair ratios (with / without syzygy).
CHECK_TARGET = 2.0  # syzygy.E001 imports every migration module.
RUNSERVER_TARGET = 1.05  # runserver imports them anyway (check_migrations).
PLAN_TARGET = 1.10
DATABASE_NAME = "plan.sqlite3"

# runserver refuses to start with DEBUG = False and no ALLOWED_HOSTS: it runs
# with settings of its own, the project's plus ALLOWED_HOSTS.
RUNSERVER_SETTINGS = "project.runserver_settings"
RUNSERVER_SETTINGS_SOURCE = (
    '"""The project\'s settings, fit for runserver (written by check_and_plan.py)."""\n'
    "\n"
    f"from {SETTINGS_MODULE} import *  # noqa: F403\n"
    "\n"
    'ALLOWED_HOSTS = ["127.0.0.1"]\n'
)
SERVER_HOST = "127.0.0.1"
SERVER_TIMEOUT = 60.0  # Seconds for runserver to accept connections.
SERVER_POLL = 0.005  # Seconds between connection attempts.
SERVER_STARTED = ("Starting development server", "Quit the server with")

# `migrate --plan` prints one heading line per migration; syzygy appends the
# stage in brackets.
STOCK_STEP = re.compile(r"^(?P<key>\w+\.\d{4}\w*)$")
SYZYGY_STEP = re.compile(
    r"^(?P<key>\w+\.\d{4}\w*)  \[(?P<stage>pre-deploy|post-deploy)\b"
)
POSTPONED_HEADING = "Postponed until after the deploy:"
# The ids of the issues a system check reports, and those of syzygy's lint.
ISSUE_ID = re.compile(r"\((\w+\.[CEWID]\d{3})\)")
LINT_WARNINGS = frozenset(f"syzygy.W{number:03d}" for number in range(2, 9))


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


@dataclass(frozen=True)
class Output:
    """What a run printed."""

    stdout: str
    stderr: str


@dataclass
class Samples:
    """The timings of a row: both commands' durations and their pair ratios."""

    without: list[float] = field(default_factory=list)
    with_syzygy: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


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


def _environment(database: Path, invocation: Invocation) -> dict[str, str]:
    """Return the environment of a run of ``invocation``."""
    env = {**os.environ, "BENCH_DATABASE": str(database)}
    env.pop("BENCH_SYZYGY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if invocation.syzygy:
        env["BENCH_SYZYGY"] = "1"
    return env


def run(project: Path, database: Path, invocation: Invocation) -> tuple[float, Output]:
    """Run ``invocation`` in a fresh interpreter; return its duration and output.

    Exit with the command's output if it fails.
    """
    env = _environment(database, invocation)
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
    return duration, Output(completed.stdout, completed.stderr)


def _free_port() -> int:
    """Return a TCP port of the loopback interface that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((SERVER_HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def _accepts(port: int) -> bool:
    """Return whether a TCP connection to ``port`` succeeds."""
    try:
        with socket.create_connection((SERVER_HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def serve(
    project: Path, database: Path, invocation: Invocation
) -> tuple[float, Output]:
    """Start ``invocation`` (a ``runserver``) and time it until it accepts a
    connection; stop it and return that duration and its output.

    Exit with the server's output if it exits, or doesn't accept connections
    within ``SERVER_TIMEOUT`` seconds, or doesn't stop when interrupted.
    """
    env = _environment(database, invocation)
    port = _free_port()
    command = [sys.executable, "manage.py", *invocation.args, f"{SERVER_HOST}:{port}"]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:

        def printed() -> str:
            stdout.seek(0)
            stderr.seek(0)
            return (
                f"--- stdout (end) ---\n{stdout.read()[-3000:]}\n"
                f"--- stderr (end) ---\n{stderr.read()[-3000:]}"
            )

        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=stdout, stderr=stderr, text=True
        )
        try:
            while not _accepts(port):
                if process.poll() is not None:
                    raise SystemExit(
                        f"{invocation} exited with {process.returncode} "
                        f"before accepting connections.\n{printed()}"
                    )
                if time.perf_counter() - start > SERVER_TIMEOUT:
                    raise SystemExit(
                        f"{invocation} accepted no connection on port {port} "
                        f"within {SERVER_TIMEOUT:.0f} s.\n{printed()}"
                    )
                time.sleep(SERVER_POLL)
            duration = time.perf_counter() - start
            # runserver exits 0 on KeyboardInterrupt, flushing its output.
            process.send_signal(signal.SIGINT)
            try:
                returncode = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise SystemExit(
                    f"{invocation} didn't stop on SIGINT.\n{printed()}"
                ) from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if returncode != 0:
            raise SystemExit(
                f"{invocation} exited with {returncode} on SIGINT.\n{printed()}"
            )
        stdout.seek(0)
        stderr.seek(0)
        return duration, Output(stdout.read(), stderr.read())


def _fail(invocation: Invocation, problem: str, output: Output) -> None:
    raise SystemExit(
        f"{invocation}: {problem}.\n"
        f"--- stdout (start) ---\n{output.stdout[:3000]}\n"
        f"--- stderr (start) ---\n{output.stderr[:3000]}"
    )


def _plan_lines(invocation: Invocation, output: Output) -> list[str]:
    lines = output.stdout.splitlines()
    if not lines or lines[0] != "Planned operations:":
        _fail(invocation, "the output doesn't start with the plan", output)
    return lines[1:]


def check_check_output(
    invocation: Invocation, output: Output, expected: Expected
) -> None:
    """Verify that ``check`` found no issue."""
    if "System check identified no issues" not in output.stdout:
        _fail(invocation, "the check reported issues", output)


def check_database_check_output(
    invocation: Invocation, output: Output, expected: Expected
) -> None:
    """Verify that ``check --database`` found no issue, or with syzygy only
    warnings of its lint (``syzygy.W002`` to ``W008``) about the generated
    migrations, which add indexes and foreign keys as Django writes them."""
    if not invocation.syzygy:
        check_check_output(invocation, output, expected)
        return
    reported = set(ISSUE_ID.findall(output.stderr))
    if not reported:
        check_check_output(invocation, output, expected)
    elif "ERRORS:" in output.stderr or not reported <= LINT_WARNINGS:
        _fail(invocation, "the check reported other issues than lint warnings", output)


def check_runserver_output(
    invocation: Invocation, output: Output, expected: Expected
) -> None:
    """Verify that ``runserver`` checked the project, found no issue, loaded
    the migrations and started the server."""
    check_check_output(invocation, output, expected)
    unapplied = f"You have {len(expected.unapplied)} unapplied migration(s)"
    if unapplied not in output.stdout:
        _fail(invocation, f"the output doesn't say {unapplied!r}", output)
    if not any(line in output.stdout for line in SERVER_STARTED):
        _fail(invocation, "the development server didn't start", output)


def check_stock_plan(
    invocation: Invocation, output: Output, expected: Expected
) -> None:
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
    invocation: Invocation, lines: list[str], output: Output
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


def check_syzygy_plan(
    invocation: Invocation, output: Output, expected: Expected
) -> None:
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
    invocation: Invocation, output: Output, expected: Expected
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
    runserver = ("runserver", "--noreload", "--settings", RUNSERVER_SETTINGS)
    check_database = ("check", "--database", "default")
    plan = ("migrate", "--plan")
    pre_deploy_plan = ("migrate", "--pre-deploy", "--plan")
    unchecked_plan = (*plan, "--skip-checks")
    unchecked_pre_deploy_plan = (*pre_deploy_plan, "--skip-checks")
    rows = [
        Comparison(
            "check", Invocation(check, False), Invocation(check, True), CHECK_TARGET
        ),
        Comparison(
            "runserver start-up",
            Invocation(runserver, False),
            Invocation(runserver, True),
            RUNSERVER_TARGET,
        ),
        Comparison(
            "migrate --plan -> --pre-deploy --plan",
            Invocation(plan, False),
            Invocation(pre_deploy_plan, True),
            PLAN_TARGET,
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
        Invocation(runserver, False): check_runserver_output,
        Invocation(runserver, True): check_runserver_output,
        Invocation(check_database, False): check_database_check_output,
        Invocation(check_database, True): check_database_check_output,
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
    rows: list[Comparison],
    checkers: dict[Invocation, Callable[..., None]],
    repeat: int,
) -> dict[Comparison, Samples]:
    """Time every row ``repeat`` times, after a warm-up round.

    Each round runs, row after row, the command without syzygy and the one
    with it back to back, the one without first in odd rounds and last in
    even ones, and records their durations and ratio.
    """
    samples = {row: Samples() for row in rows}
    for round_number in range(repeat + 1):
        for row in rows:
            pair = [row.without, row.with_syzygy]
            if round_number % 2 == 0:
                pair.reverse()
            durations: dict[Invocation, float] = {}
            for invocation in pair:
                timer = serve if invocation.args[0] == "runserver" else run
                durations[invocation], output = timer(project, database, invocation)
                checkers[invocation](invocation, output, expected)
            if round_number > 0:
                row_samples = samples[row]
                row_samples.without.append(durations[row.without])
                row_samples.with_syzygy.append(durations[row.with_syzygy])
                row_samples.ratios.append(
                    durations[row.with_syzygy] / durations[row.without]
                )
        label = "warm-up" if round_number == 0 else f"round {round_number}/{repeat}"
        print(f"  {label} done", file=sys.stderr, flush=True)
    return samples


def report(rows: list[Comparison], samples: dict[Comparison, Samples]) -> None:
    """Print the table of timings and the pair ratios against their targets."""
    header = (
        f"{'command':<38} {'without syzygy s':>16} {'with syzygy s':>16} {'ratio':>19}",
        f"{'':<38} {'median    min':>16} {'median    min':>16} "
        f"{'median   min  pairs':>19}",
    )
    print("\n".join(header))
    print("-" * len(header[0]))
    for row in rows:
        row_samples = samples[row]
        without, with_syzygy = row_samples.without, row_samples.with_syzygy
        medians = statistics.median(without), statistics.median(with_syzygy)
        minimums = min(without), min(with_syzygy)
        print(
            f"{row.label:<38} "
            f"{medians[0]:>7.3f} {minimums[0]:>8.3f} "
            f"{medians[1]:>7.3f} {minimums[1]:>8.3f} "
            f"{medians[1] / medians[0]:>7.3f} {minimums[1] / minimums[0]:>5.3f} "
            f"{statistics.median(row_samples.ratios):>5.3f}"
        )
    print()
    print(
        "Ratios (with / without syzygy): median of the pair ratios "
        "[their minimum - maximum]:"
    )
    for row in rows:
        ratios = samples[row].ratios
        ratio = statistics.median(ratios)
        if row.target is None:
            verdict = "(informational, no target)"
        else:
            verdict = f"target <= {row.target:.2f}: " + (
                "met" if ratio <= row.target else "MISSED"
            )
        print(
            f"  {row.label:<38} {ratio:.3f} "
            f"[{min(ratios):.3f} - {max(ratios):.3f}]  {verdict}"
        )


def main(argv: list[str] | None = None) -> None:
    """Generate the project if needed, prepare its database and time the commands."""
    args = parse_args(argv)
    spec = ProjectSpec(apps=args.apps, migrations=args.migrations, seed=args.seed)
    project: Path = args.out.resolve()
    if args.regenerate or not is_up_to_date(project, spec):
        print(f"Generating the project in {project} ...", file=sys.stderr, flush=True)
        generate(project, spec)
    runserver_settings = project / Path(*RUNSERVER_SETTINGS.split("."))
    runserver_settings.with_suffix(".py").write_text(
        RUNSERVER_SETTINGS_SOURCE, encoding="utf-8"
    )
    database = project / DATABASE_NAME
    expected = prepare_database(project, database, spec.apps, args.applied)
    rows, checkers = comparisons()
    print(
        f"Timing {len(rows)} pairs of commands, {args.repeat} rounds ...",
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
        f"Wall-clock seconds per run, fresh interpreter each, {args.repeat} "
        "rounds of back-to-back pairs (order alternating); runserver until it "
        "accepts a connection.\n"
        f"Python {sys.version.split()[0]}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs.\n",
        flush=True,
    )
    samples = measure(project, database, expected, rows, checkers, args.repeat)
    report(rows, samples)


if __name__ == "__main__":
    main()
