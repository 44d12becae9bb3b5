"""Measure how long widening a primary key (AutoField -> BigAutoField) stalls
an application on PostgreSQL, stock Django against syzygy.

A throwaway project (``benchmarks/generated/keys``) has an ``Author`` table
and a ``Book`` table of ``--authors`` rows each, book n referencing author
n. ``Author.id`` becomes a ``BigAutoField``: stock Django deploys it with
one ``migrate``; syzygy with ``migrate --pre-deploy``, a rollout of the new
code, then ``migrate``. Writers and a reader run throughout, each in a
process of its own; a step's write (read) stall is the longest write (read)
statement that overlapped it. The benchmark asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import django
import psycopg2
from locks import BACKFILLED, LOCK_RETRY, milliseconds, ratio, seconds, syzygy_revision
from locks_load import READY_TIMEOUT, STATEMENT_TIMEOUT_MS, STOP_TIMEOUT, Samples
from locks_project import (
    MANAGE,
    SCHEMA_QUERIES,
    SETTINGS,
    Completed,
    connect,
    connection_parameters,
    server_version,
)

PROJECT = Path(__file__).resolve().parent / "generated" / "keys"
DATABASE, TEMPLATE = "syzygy_bench_keys", "syzygy_bench_keys_template"
COMMAND_TIMEOUT = 1800.0
# Seconds of load before the deploy; of old and new code writing side by side.
LEAD_IN, ROLL_OUT = 0.5, 1.0
# The longest write stall syzygy should cause in any step, in seconds.
TARGET = 0.100
STEPS = {
    "stock": ("migrate",),
    "syzygy": ("migrate --pre-deploy", "rollout", "migrate"),
}
WHOLE = "whole deploy"
ROLES = ("writer", "new-writer", "reader")
MODELS = """\
from django.db import models


class Author(models.Model):
    id = models.{key}(primary_key=True)
    name = models.CharField(max_length=100)


class Book(models.Model):
    id = models.AutoField(primary_key=True)
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, models.CASCADE)
"""
FILL = """\
INSERT INTO bench_author (name) SELECT 'author ' || n FROM generate_series(1, %(n)s) n;
INSERT INTO bench_book (title, author_id)
SELECT 'book ' || n, n FROM generate_series(1, %(n)s) n;
"""
INSERT_AUTHOR = "INSERT INTO bench_author (name) VALUES (%s) RETURNING id"
INSERT_BOOK = "INSERT INTO bench_book (title, author_id) VALUES (%s, %s)"
UPDATE_AUTHOR = "UPDATE bench_author SET name = %s WHERE id = %s"
UPDATE_BOOK = "UPDATE bench_book SET title = %s WHERE id = %s"
READ = """SELECT a.id, a.name, b.id, b.title FROM bench_author a
    JOIN bench_book b ON b.author_id = a.id WHERE a.id = %s"""
QUERIES = {
    **SCHEMA_QUERIES,
    "identity": """SELECT table_name, column_name, identity_generation
        FROM information_schema.columns
        WHERE table_name LIKE 'bench\\_%' AND is_identity = 'YES'""",
    "sequence": """SELECT sequencename, data_type::text FROM pg_sequences
        WHERE sequencename LIKE 'bench\\_%'""",
    "trigger": """SELECT tgrelid::regclass::text, tgname FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'bench\\_%'""",
}
# What must hold after the change, one column each.
CHECK = """\
WITH columns AS (
    SELECT table_name || '.' || column_name AS name, data_type
    FROM information_schema.columns WHERE table_name LIKE 'bench\\_%'
), keys AS (
    SELECT contype, pg_get_constraintdef(oid) AS definition, convalidated
    FROM pg_constraint WHERE conrelid::regclass::text LIKE 'bench\\_%'
)
SELECT
    (SELECT data_type = 'bigint' FROM columns WHERE name = 'bench_author.id')
        AS "bench_author.id is bigint",
    (SELECT data_type = 'bigint' FROM columns WHERE name = 'bench_book.author_id')
        AS "bench_book.author_id is bigint",
    (SELECT bool_and(convalidated) FROM keys
        WHERE contype = 'p' AND definition = 'PRIMARY KEY (id)')
        AS "a validated primary key on bench_author.id",
    (SELECT bool_and(convalidated) FROM keys WHERE contype = 'f'
        AND definition LIKE 'FOREIGN KEY (author_id) REFERENCES bench_author(id)%')
        AS "a validated foreign key on bench_book.author_id",
    (SELECT data_type::text = 'bigint' FROM pg_sequences
        WHERE format('%I.%I', schemaname, sequencename)::regclass
            = pg_get_serial_sequence('bench_author', 'id')::regclass)
        AS "the identity sequence of bench_author.id is bigint",
    NOT EXISTS (SELECT FROM columns WHERE name LIKE '%syzygy%')
        AS "no shadow column left"
"""
# An operation of a migration file, one level into ``operations = [``.
OPERATION = re.compile(r"^ {8}(?:[\w.]+\.)?(\w+)\(", re.MULTILINE)


@dataclass
class Measurement:
    """One variant's deploy: per step, the longest write and read, the duration
    and the failed statements; the schema it left and what to note."""

    steps: dict[str, tuple[float | None, float | None, float, int]]
    schema: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)


def migrations(variant: str) -> Path:
    """Return the migration package of ``variant``."""
    return PROJECT / "bench" / f"migrations_{variant}"


def manage(variant: str, *arguments: str, database: str = DATABASE) -> Completed:
    """Run ``manage.py`` with the settings of ``variant``; kill it at the timeout."""
    environment = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=f"settings_{variant}",
        LOCKS_BENCH_DATABASE=database,
        PYTHONDONTWRITEBYTECODE="1",  # migrations are rewritten: no stale caches
    )
    environment.pop("PYTHONPATH", None)
    command = [sys.executable, "manage.py", *arguments, "--noinput"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=PROJECT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        result = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or ""
        output = output.decode() if isinstance(output, bytes) else output
        result = -9, output, f"killed after {COMMAND_TIMEOUT:g} s"
    return Completed(arguments, *result, started, time.monotonic())


def drop_databases(*names: str) -> None:
    """Drop the databases ``names``, closing the connections left to them."""
    with connect("postgres") as connection, connection.cursor() as cursor:
        for name in names:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_template(authors: int) -> None:
    """Write the project and its initial migration, then the template database."""
    drop_databases(DATABASE, TEMPLATE)
    with connect("postgres") as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{TEMPLATE}"')
    shutil.rmtree(PROJECT, ignore_errors=True)
    for variant in STEPS:
        migrations(variant).mkdir(parents=True)
        (migrations(variant) / "__init__.py").write_text("")
        apps = ["bench", "syzygy"] if variant == "syzygy" else ["bench"]
        settings = SETTINGS.format(installed_apps=apps, package=f"migrations_{variant}")
        # The key to widen is an AutoField, as in projects older than Django 3.2.
        (PROJECT / f"settings_{variant}.py").write_text(
            settings.replace("BigAutoField", "AutoField")
        )
    (PROJECT / "manage.py").write_text(MANAGE)
    (PROJECT / "bench" / "__init__.py").write_text("")
    (PROJECT / "bench" / "models.py").write_text(MODELS.format(key="AutoField"))
    for arguments in (("makemigrations", "bench"), ("migrate",)):
        completed = manage("stock", *arguments, database=TEMPLATE)
        if completed.returncode != 0:
            raise SystemExit(f"Setting the template up failed: {completed.error}")
    initial = migrations("stock") / "0001_initial.py"
    shutil.copyfile(initial, migrations("syzygy") / initial.name)
    with connect(TEMPLATE) as connection, connection.cursor() as cursor:
        cursor.execute(FILL, {"n": authors})
        cursor.execute("VACUUM ANALYZE bench_author, bench_book")


def make_migrations() -> None:
    """Write the migrations of the wider key with each variant; print them."""
    (PROJECT / "bench" / "models.py").write_text(MODELS.format(key="BigAutoField"))
    print("Migrations written:")
    for variant in STEPS:
        completed = manage(variant, "makemigrations", "bench")
        written = sorted(migrations(variant).glob("0[0-9]*.py"))[1:]
        if completed.returncode != 0 or not written:
            raise SystemExit(f"makemigrations wrote nothing: {completed.error}")
        for path in written:
            operations = ", ".join(OPERATION.findall(path.read_text()))
            print(f"  {variant + ':':<8} {path.stem} ({operations})")
    print(flush=True)


def run(
    role: str,
    authors: int,
    pause: float,
    events: tuple[Event, ...],
    results: Connection,
) -> None:
    """Run the statements of ``role`` from its go event until its stop event;
    send the samples through ``results``."""
    ready, go, stop = events
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    connection = psycopg2.connect(**connection_parameters(DATABASE), options=options)
    connection.autocommit = True
    cursor = connection.cursor()
    samples, rng = Samples(role, array("d"), array("d")), random.Random()

    def timed(sql: str, *parameters: object) -> list[tuple[object, ...]]:
        start, rows = time.monotonic(), []
        try:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
        except psycopg2.Error as error:
            samples.failed_ends.append(time.monotonic())
            samples.first_failure = samples.first_failure or str(error).strip()
        samples.starts.append(start)
        samples.ends.append(time.monotonic())
        time.sleep(pause)
        return rows

    ready.set()
    while not (go.wait(0.05) or stop.is_set()):
        pass
    number = 0
    while not stop.is_set() and not connection.closed:
        number += 1
        if role == "reader":
            timed(READ, rng.randint(1, authors))
            continue
        if inserted := timed(INSERT_AUTHOR, f"{role} {number}"):
            timed(INSERT_BOOK, f"{role} {number}", inserted[0][0])
        timed(UPDATE_AUTHOR, f"renamed {number}", rng.randint(1, authors))
        timed(UPDATE_BOOK, f"retitled {number}", rng.randint(1, authors))
    results.send(samples)
    connection.close()


class Load:
    """The old code's writer and the reader from the start, the new code's
    writer from the rollout on, each a process with its own connection."""

    def __init__(self, authors: int, pause: float) -> None:
        context = multiprocessing.get_context("spawn")
        # Per role: ready (connected), go (start the statements), stop.
        self.events = {role: tuple(context.Event() for _ in "rgs") for role in ROLES}
        self.pipes = {role: context.Pipe(duplex=False) for role in ROLES}
        self.processes = [
            context.Process(
                target=run,
                args=(role, authors, pause, self.events[role], self.pipes[role][1]),
                name=f"keys-benchmark-{role}",
                daemon=True,
            )
            for role in ROLES
        ]

    def start(self) -> None:
        """Start the processes; let all but the new code's writer go."""
        for process in self.processes:
            process.start()
        for role, (ready, go, _) in self.events.items():
            if not ready.wait(READY_TIMEOUT):
                raise RuntimeError(f"the {role} did not connect in time")
            if role != "new-writer":
                go.set()

    def roll_out(self) -> None:
        """Start the new code's writer; stop the old one ``ROLL_OUT`` s later."""
        self.events["new-writer"][1].set()
        time.sleep(ROLL_OUT)
        self.events["writer"][2].set()

    def stop(self) -> dict[str, Samples]:
        """Stop every process after its statement in flight; return the samples."""
        for _, _, stop in self.events.values():
            stop.set()
        samples = {}
        for role, (receiver, _) in self.pipes.items():
            if not receiver.poll(STOP_TIMEOUT):
                raise RuntimeError(f"the {role} did not stop in time")
            samples[role] = receiver.recv()
        return samples

    def close(self) -> None:
        """Stop the processes, killing those that don't stop in a second."""
        for _, _, stop in self.events.values():
            stop.set()
        for process in self.processes:
            process.join(1.0)
            if process.is_alive():
                process.terminate()
                process.join()


def inspect() -> tuple[list[str], frozenset[str]]:
    """Return the checks the schema fails and the schema of the bench tables."""
    with connect(DATABASE) as connection, connection.cursor() as cursor:
        cursor.execute(CHECK)
        checks = zip(cursor.description, cursor.fetchone(), strict=True)
        failed = [f"schema check failed: {c.name}" for c, ok in checks if not ok]
        described = set()
        for kind, query in QUERIES.items():
            cursor.execute(query)
            described.update(f"{kind} {' '.join(map(str, row))}" for row in cursor)
    return failed, frozenset(described)


def measure(variant: str, args: argparse.Namespace) -> Measurement:
    """Deploy the wider key with ``variant`` on a fresh copy of the template."""
    with connect("postgres") as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        # FILE_COPY copies the files and checkpoints: no WAL left to flush.
        cursor.execute(
            f'CREATE DATABASE "{DATABASE}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY'
        )
    windows, completed, load = {}, [], Load(args.authors, args.pause)
    try:
        load.start()
        time.sleep(LEAD_IN)
        for step in STEPS[variant]:
            started = time.monotonic()
            if step == "rollout":
                load.roll_out()
            else:
                completed.append(manage(variant, *step.split()))
            windows[step] = started, time.monotonic()
            if completed[-1].returncode != 0:
                break
        samples = load.stop()
    finally:
        load.close()
    windows[WHOLE] = next(iter(windows.values()))[0], windows[step][1]
    steps = {}
    for step, (start, end) in windows.items():
        writes = [samples[role].longest(start, end) for role in ROLES[:2]]
        steps[step] = (
            max((stall for stall in writes if stall is not None), default=None),
            samples["reader"].longest(start, end),
            end - start,
            sum(start <= t <= end for s in samples.values() for t in s.failed_ends),
        )
    failed, schema = inspect()
    notes = [f"failed: {completed[-1].error}"] if completed[-1].returncode else []
    notes += failed + [
        f"{role}: {len(s.failed_ends)} of {len(s.ends)} statements failed, the "
        f"first: {s.first_failure.splitlines()[0]}"
        for role, s in samples.items()
        if s.failed_ends
    ]
    for command in completed:
        if retries := command.stdout.count(LOCK_RETRY):
            notes.append(f"{' '.join(command.arguments)}: {retries} lock waits retried")
        for copied in BACKFILLED.finditer(command.stdout):
            label = copied.group(0).partition(": [")[0]
            notes.append(f"{label}: {copied['rows']} rows in {copied['seconds']} s")
    return Measurement(steps, schema, notes)


def report(results: dict[str, list[Measurement]], repeat: int) -> None:
    """Print the table of stalls and durations, the ratios, the target and notes."""

    def median(variant: str, step: str, index: int) -> float | None:
        values = [m.steps[step][index] for m in results[variant] if step in m.steps]
        values = [value for value in values if value is not None]
        return statistics.median(values) if values else None

    def ratios(step: str, of: str) -> str:
        stock = [median("stock", WHOLE, index) for index in range(3)]
        syzygy = [median("syzygy", step, index) for index in range(3)]
        return f"{of} write stall {ratio(stock[0], syzygy[0]):>7}, read " + (
            f"{ratio(stock[1], syzygy[1]):>7}, duration {ratio(stock[2], syzygy[2])}"
        )

    heading = (
        f"{'step':<22} {'variant':<8} {'longest write stall ms':>22} "
        f"{'longest read ms':>15} {'duration s':>10} {'failed statements':>17}"
    )
    print(f"\n{heading}\n{'-' * len(heading)}")
    for variant in results:
        for step in (*STEPS[variant], WHOLE):
            write, read, duration, failed = (median(variant, step, i) for i in range(4))
            print(
                f"{step:<22} {variant:<8} {milliseconds(write):>22} "
                f"{milliseconds(read):>15} {seconds(duration):>10} "
                f"{'-' if failed is None else f'{failed:g}':>17}"
            )
    print(f"\nMedians of {repeat} measurements." if repeat > 1 else "")
    print("Ratios stock / syzygy, stock's whole deploy against each syzygy step:")
    met = True
    for step in STEPS["syzygy"]:
        stall = median("syzygy", step, 0)
        met = met and stall is not None and stall <= TARGET
        target = "met" if stall is not None and stall <= TARGET else "NOT MET"
        print(f"  {ratios(step, f'{step:<22}')}; target {target}")
    print(f"  {ratios(WHOLE, f'{WHOLE:<22}')}")
    print(
        f"Target (syzygy's longest write stall <= {TARGET * 1000:.0f} ms in every "
        f"step): {'met' if met else 'NOT MET'}.\n"
        "Write stall: the longest insert or update of a writer that overlapped "
        "the step; read: the\nlongest select of the reader. Duration: Python "
        f"start-up included; the rollout lasts {ROLL_OUT:g} s."
    )
    stock, syzygy = results["stock"][0].schema, results["syzygy"][0].schema
    notes = [f"only stock has {line}" for line in sorted(stock - syzygy)]
    notes += [f"only syzygy has {line}" for line in sorted(syzygy - stock)]
    print(f"Final schemas of stock and syzygy: {'differ' if notes else 'identical'}.")
    notes += [
        f"{variant} #{number}: {note}"
        for variant, measurements in results.items()
        for number, measurement in enumerate(measurements, 1)
        for note in measurement.notes
    ]
    if notes:
        print("\nNotes:\n" + "\n".join(f"  - {note}" for note in notes))


def main(argv: list[str] | None = None) -> None:
    """Set the project and template up, then deploy the wider key with each variant."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=int, default=1_000_000, help="(1000000)")
    parser.add_argument("--repeat", type=int, default=1, help="deploys per variant")
    parser.add_argument("--pause", type=float, default=0.002, help="(0.002 s)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if args.authors < 10 or args.repeat < 1 or args.pause < 0:
        parser.error("--authors must be >= 10, --repeat >= 1 and --pause >= 0")
    try:
        number, version = server_version()
    except psycopg2.Error as error:
        raise SystemExit(f"Cannot connect to PostgreSQL: {error}") from error
    if number < 150000:
        raise SystemExit(f"PostgreSQL 15 or later is needed, not {version}.")
    print(
        f"{args.authors} authors and as many books; the load pauses "
        f"{args.pause * 1000:g} ms between statements.\nPostgreSQL {version}, "
        f"Python {sys.version.split()[0]}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs.\nsyzygy: {syzygy_revision()}\n",
        flush=True,
    )
    results: dict[str, list[Measurement]] = {variant: [] for variant in STEPS}
    try:
        print("Creating the template database ...", file=sys.stderr, flush=True)
        create_template(args.authors)
        make_migrations()
        for _ in range(args.repeat):
            for variant in STEPS:
                results[variant].append(measurement := measure(variant, args))
                stall, _, duration, _ = measurement.steps[WHOLE]
                print(
                    f"  {variant:<7} write stall {milliseconds(stall):>6} ms, "
                    f"deploy {seconds(duration)} s",
                    file=sys.stderr,
                    flush=True,
                )
        report(results, args.repeat)
    finally:
        if not args.keep:
            drop_databases(DATABASE, TEMPLATE)


if __name__ == "__main__":
    main()
