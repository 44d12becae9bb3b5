"""Measure how long schema migrations stall an application on PostgreSQL,
stock Django against syzygy.

A throwaway project (``locks_project.py``, written to
``benchmarks/generated/locks``) has an ``Item`` table of ``--rows`` rows
(a million by default). For each change of its model (add a NOT NULL field
with a default, a uuid4 field, an index, a unique constraint, a foreign key,
a check constraint, NULL -> NOT NULL, integer -> bigint, a table or a column
renamed), ``makemigrations`` writes the migrations of each variant: stock
Django, and syzygy (which may split them into pre-deploy and post-deploy
ones). Each variant then applies them on a fresh
copy of the same database, with real processes: ``manage.py migrate`` for
stock Django, ``migrate --pre-deploy`` then ``migrate`` for syzygy.

Meanwhile a writer (insert a row, update a random one) and a reader (select
a random row by primary key) each loop on a connection of their own
(``locks_load.py``); before syzygy's post-deploy ``migrate``, the new code
rolls out: a writer that also sets the new column starts, and the old one
stops (for a rename, the new code's writer and reader use the new name).
A variant's write (read) stall is the longest single writer (reader)
statement that overlapped the migration window, from the start of the first
``migrate`` to the end of the last. Every change is measured twice: as
is, and with a transaction holding an ACCESS SHARE lock on the table from
just before ``migrate`` for ``--hold`` seconds, as a long-running report
query would.

The benchmark prints the stalls, their ratios and the durations of the
migrations, and whether syzygy meets the targets; it asserts nothing about
the timings.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import django
import psycopg2
from locks_load import HeldTransaction, Load, Samples
from locks_project import (
    APP,
    CHANGES,
    DATABASE,
    DEFAULT_OUT,
    STOCK,
    SYZYGY,
    TEMPLATE_DATABASE,
    VARIANTS,
    Change,
    Completed,
    Project,
    Variant,
    connection_parameters,
    copy_template,
    create_template,
    drop_databases,
    recorded_migrations,
    schema,
    server_version,
)

REPOSITORY = DEFAULT_OUT.parents[2]
# The load runs alone for a moment before the migration starts.
LEAD_IN = 0.5
# Old and new code both write for this long before the old code is gone.
ROLL_OUT = 0.5
# The longest write stall syzygy should cause, in seconds, without and with
# a transaction held open on the table.
TARGETS = {False: 0.050, True: 0.300}
# syzygy's migrate prints this each time a lock wait times out and it retries.
LOCK_RETRY = "lock wait timed out"
# ... and this when a backfill (or the copy of a renamed column) is done.
BACKFILLED = re.compile(
    r"(?:Backfilling|Copying) [^:]+: \[#+\] (?P<rows>[\d,]+)/[\d,]+ rows "
    r"\(100%\) in (?P<seconds>[\d.]+) s"
)
REFUSED = 3


@dataclass
class Written:
    """The migrations ``makemigrations`` wrote for a change, with a variant's
    settings, or why it wrote none."""

    migrations: list[str] = field(default_factory=list)
    listing: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class Measurement:
    """One variant's migration of one change, under load."""

    write_stall: float | None = None
    read_stall: float | None = None
    duration: float | None = None
    problem: str | None = None
    lock_retries: int = 0
    # Rows a backfill filled and the seconds it took, as migrate reports it.
    backfill_rows: int | None = None
    backfill_seconds: float | None = None
    load_failures: list[str] = field(default_factory=list)
    schema: frozenset[str] = frozenset()


@dataclass
class Row:
    """A change, measured without or with a held transaction, per variant."""

    change: Change
    hold: float
    written: dict[str, Written]
    measurements: dict[str, list[Measurement]] = field(
        default_factory=lambda: {variant.name: [] for variant in VARIANTS}
    )

    def median(self, variant: Variant, attribute: str) -> float | None:
        """Return the median of ``attribute`` over the measurements that have it."""
        values = [
            value
            for measurement in self.measurements[variant.name]
            if (value := getattr(measurement, attribute)) is not None
        ]
        return statistics.median(values) if values else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the table (1000000)"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=5.0,
        help="seconds the held transaction lasts; 0 measures without one only (5)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[change.key for change in CHANGES],
        help="measure this change only (repeat the option for several)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measurements per change, variant and hold; the table shows medians",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.001,
        help="seconds the writer and the reader sleep between statements (0.001)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the databases {DATABASE} and {TEMPLATE_DATABASE}",
    )
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    if args.hold < 0:
        parser.error("--hold must not be negative")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.pause < 0:
        parser.error("--pause must not be negative")
    return args


def make_migrations(project: Project, change: Change) -> dict[str, Written]:
    """Write the migrations of ``change`` with the settings of each variant."""
    project.reset_migrations()
    project.write_models(change)
    written = {}
    for variant in VARIANTS:
        before = set(project.migrations(variant))
        completed = project.manage(
            variant, ("makemigrations", APP), answers=change.answers.get(variant.name)
        )
        result = Written(
            migrations=[
                name for name in project.migrations(variant) if name not in before
            ],
            # makemigrations prints the path of each file it writes, which
            # syzygy follows with the migration's stage.
            listing=[
                line.strip().rpartition("/")[2]
                for line in completed.stdout.splitlines()
                if variant.package in line
            ],
        )
        if completed.returncode == REFUSED and variant is SYZYGY:
            result.problem = f"refused: {completed.reason}"
        elif completed.returncode != 0:
            result.problem = f"makemigrations failed: {completed.error}"
        elif not result.migrations:
            result.problem = "makemigrations wrote no migration"
        written[variant.name] = result
    project.keep_migrations(change)
    return written


def held_transaction(hold: float) -> HeldTransaction | nullcontext[None]:
    """Return a transaction to hold on the table for ``hold`` seconds, if not 0."""
    if not hold:
        return nullcontext()
    return HeldTransaction(connection_parameters(DATABASE), hold)


def migrate(project: Project, variant: Variant, load: Load) -> list[Completed]:
    """Run the ``migrate`` commands of ``variant`` until one fails; roll the
    new code out before the post-deploy one."""
    completed = []
    for step, arguments in enumerate(variant.migrate_commands):
        if step:
            load.roll_out(ROLL_OUT)
        completed.append(project.manage(variant, arguments))
        if completed[-1].returncode != 0:
            break
    return completed


def describe_load_failures(
    role: str, samples: Samples, completed: list[Completed]
) -> list[str]:
    """Describe the statements of ``role`` that failed, and when the first did."""
    if not samples.failed_ends:
        return []
    first = samples.failed_ends[0]
    when = f"after `{' '.join(completed[-1].arguments)}`"
    for command in completed:
        if first <= command.ended:
            during = "during" if first >= command.started else "before"
            when = f"{during} `{' '.join(command.arguments)}`"
            break
    return [
        f"{role}: {len(samples.failed_ends)} of {len(samples.ends)} statements "
        f"failed, the first {when} ({samples.first_failure})"
    ]


def measure(
    project: Project,
    variant: Variant,
    change: Change,
    written: Written,
    hold: float,
    args: argparse.Namespace,
) -> Measurement:
    """Migrate a fresh copy of the database under load; return the stalls."""
    if written.problem:
        return Measurement(problem=written.problem)
    copy_template()
    parameters = connection_parameters(DATABASE)
    with Load(
        parameters,
        args.rows,
        args.pause,
        change.new_insert,
        change.new_select,
        change.new_update,
    ) as load:
        time.sleep(LEAD_IN)
        with held_transaction(hold):
            window_start = time.monotonic()
            completed = migrate(project, variant, load)
            window_end = time.monotonic()
        samples = load.stop()
    write_stalls = [
        stall
        for role in ("writer", "new-writer")
        if (stall := samples[role].longest(window_start, window_end)) is not None
    ]
    measurement = Measurement(
        write_stall=max(write_stalls, default=None),
        read_stall=samples["reader"].longest(window_start, window_end),
        duration=window_end - window_start,
        lock_retries=sum(command.stdout.count(LOCK_RETRY) for command in completed),
        load_failures=[
            failure
            for role, role_samples in samples.items()
            for failure in describe_load_failures(role, role_samples, completed)
        ],
        schema=schema(),
    )
    for command in completed:
        for filled in BACKFILLED.finditer(command.stdout):
            measurement.backfill_rows = int(filled["rows"].replace(",", ""))
            measurement.backfill_seconds = float(filled["seconds"])
    if completed[-1].returncode != 0:
        measurement.problem = f"failed: {completed[-1].error}"
    elif missing := {"0001_initial", *written.migrations} - recorded_migrations():
        measurement.problem = f"failed: not recorded as applied: {sorted(missing)}"
    elif measurement.write_stall is None or measurement.read_stall is None:
        measurement.problem = "failed: a load process ran no statement"
    return measurement


def milliseconds(duration: float | None) -> str:
    return "-" if duration is None else f"{duration * 1000:.0f}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def target(row: Row) -> str:
    """Return whether syzygy's write stall meets its target, if it migrated."""
    stall = row.median(SYZYGY, "write_stall")
    if stall is None or any(
        measurement.problem for measurement in row.measurements[SYZYGY.name]
    ):
        return "-"
    return "met" if stall <= TARGETS[bool(row.hold)] else "MISSED"


def hold_label(hold: float) -> str:
    return f"{hold:g} s" if hold else "none"


def schema_differences(row: Row) -> list[str]:
    """Return how the schemas the two variants left differ, if both completed."""
    schemas = [
        next(
            (
                measurement.schema
                for measurement in row.measurements[variant.name]
                if not measurement.problem
            ),
            None,
        )
        for variant in VARIANTS
    ]
    stock_schema, syzygy_schema = schemas
    if stock_schema is None or syzygy_schema is None:
        return []
    return [
        f"only stock has {line}" for line in sorted(stock_schema - syzygy_schema)
    ] + [f"only syzygy has {line}" for line in sorted(syzygy_schema - stock_schema)]


def status(row: Row) -> tuple[str, list[str]]:
    """Return the row's status and the notes that explain it."""
    problems = []
    for variant in VARIANTS:
        problem = next(
            (
                measurement.problem
                for measurement in row.measurements[variant.name]
                if measurement.problem
            ),
            None,
        )
        if problem:
            problems.append(f"{variant.name} {problem}")
    differences = schema_differences(row)
    if problems:
        short = problems[0]
    elif differences:
        short = "ok, schemas differ (see notes)"
    else:
        short = "ok"
    notes = problems + differences
    for variant in VARIANTS:
        measurements = row.measurements[variant.name]
        retries = sum(measurement.lock_retries for measurement in measurements)
        if retries:
            notes.append(f"{variant.name} retried {retries} timed-out lock waits")
        notes += [
            f"{variant.name} {failure}"
            for measurement in measurements
            for failure in measurement.load_failures
        ]
    return short, notes


def report(rows: list[Row], repeat: int) -> None:
    """Print the table of stalls and durations, then the notes."""
    columns = (
        f"{'change':<24} {'hold':>5} "
        f"{'write stall ms':^24} {'read stall ms':^24} {'migrate s':^15} "
        f"{'target':<7} status"
    )
    subheading = (
        f"{'':<24} {'':>5} "
        f"{'stock':>8}{'syzygy':>8}{'ratio':>8} "
        f"{'stock':>8}{'syzygy':>8}{'ratio':>8} "
        f"{'stock':>7}{'syzygy':>8}"
    )
    print(columns)
    print(subheading)
    print("-" * max(len(columns), 110))
    all_notes = []
    for row in rows:
        write = row.median(STOCK, "write_stall"), row.median(SYZYGY, "write_stall")
        read = row.median(STOCK, "read_stall"), row.median(SYZYGY, "read_stall")
        duration = row.median(STOCK, "duration"), row.median(SYZYGY, "duration")
        short, notes = status(row)
        if len(short) > 60:
            short = short[:57] + "..."
        print(
            f"{row.change.label:<24} {hold_label(row.hold):>5} "
            f"{milliseconds(write[0]):>8}{milliseconds(write[1]):>8}"
            f"{ratio(write[1], write[0]):>8} "
            f"{milliseconds(read[0]):>8}{milliseconds(read[1]):>8}"
            f"{ratio(read[1], read[0]):>8} "
            f"{seconds(duration[0]):>7}{seconds(duration[1]):>8} "
            f"{target(row):<7} {short}"
        )
        all_notes += [
            f"{row.change.label}, hold {hold_label(row.hold)}: {note}" for note in notes
        ]
    print()
    if repeat > 1:
        print(f"Medians of {repeat} measurements.")
    print(
        "Stall: the longest single statement of a writer (insert, update) or "
        "the reader (select)\nthat overlapped the migration, from the start of "
        "the first migrate to the end of the last.\nThe old code's writer runs "
        "until the new code's writer has run for "
        f"{ROLL_OUT:g} s, before the post-deploy\nmigrate.\n"
        "migrate s: that window, "
        "Python start-up included (syzygy runs two commands).\n"
        f"Target: syzygy's write stall <= {TARGETS[False] * 1000:.0f} ms without a "
        f"held transaction, <= {TARGETS[True] * 1000:.0f} ms with one."
    )
    for row in rows:
        filled = row.median(SYZYGY, "backfill_rows")
        took = row.median(SYZYGY, "backfill_seconds")
        if filled and took:
            print(
                f"Backfill of {row.change.label}, hold {hold_label(row.hold)}: "
                f"{filled:,.0f} rows in {took:.1f} s ({filled / took:,.0f} rows/s)."
            )
    measured = [row for row in rows if target(row) != "-"]
    met = sum(target(row) == "met" for row in measured)
    print(
        f"Targets met on {met} of {len(measured)} rows where syzygy migrated "
        f"({len(rows) - len(measured)} rows without a complete syzygy migration)."
    )
    if all_notes:
        print("\nNotes:")
        for note in all_notes:
            print(f"  - {note}")


def report_migrations(rows: list[Row]) -> None:
    """Print the migrations each variant wrote for each change."""
    print("\nMigrations written (kept under generated/locks/written/):")
    seen = set()
    for row in rows:
        if row.change.key in seen:
            continue
        seen.add(row.change.key)
        print(f"  {row.change.label} ({row.change.key}):")
        for variant in VARIANTS:
            written = row.written[variant.name]
            listing = written.listing or written.migrations
            description = written.problem or ", ".join(listing)
            print(f"    {variant.name + ':':<8} {description}")


def syzygy_revision() -> str:
    """Return the commit syzygy runs from, and whether its code has changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPOSITORY), "log", "--oneline", "-1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(REPOSITORY), "status", "--porcelain", "syzygy"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (+ uncommitted changes in syzygy/)" if changed else "")


def progress(row: Row, variant: Variant, measurement: Measurement) -> None:
    print(
        f"  {row.change.key:<21} hold {hold_label(row.hold):<5} {variant.name:<7}"
        f" write {milliseconds(measurement.write_stall):>6} ms"
        f"  read {milliseconds(measurement.read_stall):>6} ms"
        f"  migrate {seconds(measurement.duration):>6} s"
        + (f"  {measurement.problem[:80]}" if measurement.problem else ""),
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Set the project and the template database up, then measure every change."""
    args = parse_args(argv)
    changes = [
        change for change in CHANGES if args.only is None or change.key in args.only
    ]
    holds = [0.0, args.hold] if args.hold else [0.0]
    try:
        version_number, version = server_version()
    except psycopg2.Error as error:
        raise SystemExit(f"Cannot connect to PostgreSQL: {error}") from error
    if version_number < 130000:
        raise SystemExit(f"PostgreSQL 13 or later is needed, not {version}.")
    print(
        f"Item table of {args.rows} rows; writer and reader pause "
        f"{args.pause * 1000:g} ms between statements; held transaction: "
        f"{args.hold:g} s.\nPostgreSQL {version}, Python {sys.version.split()[0]}, "
        f"Django {django.get_version()}, {os.cpu_count()} CPUs.\n"
        f"syzygy: {syzygy_revision()}\n",
        flush=True,
    )
    project = Project(DEFAULT_OUT)
    rows: list[Row] = []
    try:
        project.write()
        print("Creating the template database ...", file=sys.stderr, flush=True)
        elapsed = create_template(project, args.rows)
        print(f"  done in {elapsed:.1f} s", file=sys.stderr, flush=True)
        for change in changes:
            written = make_migrations(project, change)
            for hold in holds:
                row = Row(change, hold, written)
                rows.append(row)
                for _ in range(args.repeat):
                    for variant in VARIANTS:
                        measurement = measure(
                            project, variant, change, written[variant.name], hold, args
                        )
                        row.measurements[variant.name].append(measurement)
                        progress(row, variant, measurement)
        print()
        report(rows, args.repeat)
        report_migrations(rows)
    finally:
        if not args.keep:
            drop_databases()


if __name__ == "__main__":
    main()
