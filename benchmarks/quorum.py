"""Measure what ``migrate --quorum`` costs, with real processes on Redis.

For each number of parties N (2, 8 and 32 by default), the benchmark writes
a fresh migration into an app of its own (so that every run has a plan of
its own), starts N processes of ``quorum_party.py``, waits until each has
set Django up, then releases them all at once: each runs ``migrate <app>
--quorum N`` against one database (a SQLite file by default). Every line the
parties print carries the time it was written. Per N it reports:

- ``wall``: from the release to the exit of the last party;
- ``migration``: how long the applying party spent in Django's ``migrate``
  (the plan's one migration sleeps ``--work`` seconds);
- ``overhead``: ``wall`` minus ``migration``: planning, meeting, telling
  every party the outcome, and the parties' exits, which on a small machine
  dominate with many parties (each is a Python process tearing Django down);
- ``meet``: from the release to the quorum, which every party reaches after
  working out its plan;
- ``notify``: from the applying party recording the outcome to the last
  waiting party printing it;
- ``exits``: from then to the last party's exit;
- ``kill``: in a run whose migration hangs, from a SIGKILL of the applying
  party to the exit of the last waiting party, and how long that party
  waited for a heartbeat (the liveness timeout) — the bound is
  ``SYZYGY_QUORUM_LIVENESS_TIMEOUT + SYZYGY_QUORUM_HEARTBEAT_INTERVAL``.

Run it from the repository root with Redis on loopback (``REDIS_URL``):

    .venv/bin/python benchmarks/quorum.py

It asserts that every run applied its plan once and that every party
exited as it should; it asserts nothing about the timings.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTY = HERE / "quorum_party.py"

INITIAL = """\
from django.db import migrations

SQL = "CREATE TABLE {app}_applylog (migration varchar(100) NOT NULL, pid integer)"


class Migration(migrations.Migration):
    initial = True
    operations = [migrations.RunSQL(SQL, "DROP TABLE {app}_applylog")]
"""

STEP = """\
import os
import time
from pathlib import Path

from django.db import migrations

CONTROL = Path({control!r})


def run(apps, schema_editor):
    if (CONTROL / "block").exists():
        (CONTROL / "applying").write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while (CONTROL / "block").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep({work!r})
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO {app}_applylog (migration, pid) VALUES (%s, %s)",
            [{name!r}, os.getpid()],
        )


class Migration(migrations.Migration):
    dependencies = [("{app}", {previous!r})]
    operations = [migrations.RunPython(run, migrations.RunPython.noop)]
"""


@dataclass
class Party:
    process: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    exited_at: float = 0.0

    def first(self, text: str) -> tuple[float, str] | None:
        return next((line for line in self.lines if text in line[1]), None)


@dataclass
class Bench:
    directory: Path
    database: str
    database_name: str
    backend: str
    work: float
    app: str = field(default_factory=lambda: f"quorumbench_{uuid.uuid4().hex[:8]}")
    migrations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.control = self.directory / "control"
        self.control.mkdir()
        package = self.directory / self.app
        (package / "migrations").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "migrations" / "__init__.py").write_text("")
        self._write("0001_initial", INITIAL.format(app=self.app))

    def _write(self, name: str, text: str) -> None:
        (self.directory / self.app / "migrations" / f"{name}.py").write_text(text)
        self.migrations.append(name)

    def add_step(self) -> str:
        name = f"{len(self.migrations) + 1:04d}_step"
        self._write(
            name,
            STEP.format(
                app=self.app,
                control=str(self.control),
                work=self.work,
                name=name,
                previous=self.migrations[-1],
            ),
        )
        return name

    def start(self, parties: int) -> list[Party]:
        environment = dict(
            os.environ,
            QUORUM_BENCH_DIRECTORY=str(self.directory),
            QUORUM_BENCH_APP=self.app,
            QUORUM_BENCH_DATABASE=self.database,
            QUORUM_BENCH_DATABASE_NAME=self.database_name,
            QUORUM_BENCH_BACKEND=self.backend,
        )
        started = [
            Party(
                subprocess.Popen(
                    [sys.executable, str(PARTY), str(parties)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=environment,
                )
            )
            for _ in range(parties)
        ]
        for party in started:
            assert party.process.stdout is not None
            ready = party.process.stdout.readline()
            assert ready == "ready\n", ready
        return started

    def release(self, parties: list[Party]) -> float:
        released_at = time.time()
        for party in parties:
            assert party.process.stdin is not None
            party.process.stdin.write("go\n")
            party.process.stdin.flush()
        return released_at

    def finish(self, parties: list[Party]) -> None:
        """Read what the parties printed, once they have exited."""
        # Parties print little: their pipes never fill up.
        for party in parties:
            assert party.process.stdout is not None
            for line in party.process.stdout:
                stamp, _, text = line.partition(" ")
                try:
                    party.lines.append((float(stamp), text.rstrip("\n")))
                except ValueError:
                    party.lines.append((0.0, line.rstrip("\n")))
        for party in parties:
            party.process.wait()

    def applied_steps(self) -> list[str]:
        sql = f"SELECT migration FROM {self.app}_applylog ORDER BY migration"
        if self.database == "sqlite":
            with sqlite3.connect(self.database_name) as connection:
                return [name for (name,) in connection.execute(sql)]
        import psycopg2

        connection = psycopg2.connect(dbname=self.database_name, **_pg())
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                return [name for (name,) in cursor.fetchall()]
        finally:
            connection.close()


def _pg() -> dict[str, str]:
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
    }


def wait_for_exits(parties: list[Party]) -> None:
    """Note when each party exits, polling every millisecond."""
    while any(party.exited_at == 0.0 for party in parties):
        for party in parties:
            if party.exited_at == 0.0 and party.process.poll() is not None:
                party.exited_at = time.time()
        time.sleep(0.001)


@dataclass
class Run:
    wall: float
    migration: float
    meet: float
    notify: float
    exits: float


def coordinated_run(bench: Bench, count: int) -> Run:
    step = bench.add_step()
    parties = bench.start(count)
    released_at = bench.release(parties)
    wait_for_exits(parties)
    bench.finish(parties)
    failed = [party for party in parties if party.process.returncode != 0]
    assert not failed, "\n".join(text for _, text in failed[0].lines)
    appliers = [party for party in parties if party.first("this party applies")]
    assert len(appliers) == 1, f"{len(appliers)} parties applied the plan"
    assert bench.applied_steps().count(step) == 1
    applied = appliers[0].first("Plan applied in ")
    published = appliers[0].first("recording the outcome: applied")
    assert applied is not None
    assert published is not None
    migration = float(applied[1].split("Plan applied in ")[1].rstrip("s."))
    noticed = [
        line[0]
        for party in parties
        if party is not appliers[0]
        for line in [party.first("Migrations applied by remote party")]
        if line is not None
    ]
    assert len(noticed) == count - 1
    reached = appliers[0].first("this party applies")
    assert reached is not None
    last_exit = max(party.exited_at for party in parties)
    return Run(
        wall=last_exit - released_at,
        migration=migration,
        meet=reached[0] - released_at,
        notify=max(noticed) - published[0],
        exits=last_exit - max(noticed),
    )


@dataclass
class Kill:
    detected: float


def killed_run(bench: Bench, count: int) -> Kill:
    step = bench.add_step()
    block, applying = bench.control / "block", bench.control / "applying"
    block.touch()
    applying.unlink(missing_ok=True)
    parties = bench.start(count)
    bench.release(parties)
    deadline = time.monotonic() + 120
    while not applying.exists():
        assert time.monotonic() < deadline, "no party started applying"
        time.sleep(0.005)
    time.sleep(0.05)
    os.kill(int(applying.read_text()), signal.SIGKILL)
    killed_at = time.time()
    wait_for_exits(parties)
    bench.finish(parties)
    block.unlink()
    waiting = [party for party in parties if party.process.returncode != -9]
    assert len(waiting) == count - 1
    for party in waiting:
        assert party.process.returncode == 1, party.lines
        assert party.first("was lost") or party.first("given up as lost"), party.lines
    assert step not in bench.applied_steps()
    # The next run applies the plan the dead party left.
    return Kill(max(party.exited_at for party in waiting) - killed_at)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parties", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=float, default=0.2)
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], default="sqlite"
    )
    parser.add_argument("--backend", choices=["redis", "postgresql"], default="redis")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        database_name = str(Path(directory) / "bench.sqlite3")
        if arguments.database == "postgresql":
            database_name = create_postgresql_database()
        try:
            bench = Bench(
                Path(directory),
                arguments.database,
                database_name,
                arguments.backend,
                arguments.work,
            )
            report(bench, arguments.parties, arguments.runs)
        finally:
            if arguments.database == "postgresql":
                drop_postgresql_database(database_name)


def report(bench: Bench, counts: list[int], runs: int) -> None:
    print(
        f"quorum backend: {bench.backend}, database: {bench.database}, "
        f"{runs} runs per N, one migration of {bench.work:g}s, "
        f"{os.cpu_count()} CPUs"
    )
    header = (
        f"{'N':>3}  {'wall':>10}  {'migration':>10}  {'overhead':>10}  "
        f"{'overhead max':>12}  {'meet':>10}  {'notify max':>10}  {'exits':>10}  "
        f"{'kill':>8}"
    )
    print(header)
    print("-" * len(header))
    for count in counts:
        coordinated = [coordinated_run(bench, count) for _ in range(runs)]
        kill = killed_run(bench, count)
        # The plan the killed party left is applied by the next run.
        coordinated_run(bench, count)
        wall = statistics.median(run.wall for run in coordinated)
        migration = statistics.median(run.migration for run in coordinated)
        overheads = [run.wall - run.migration for run in coordinated]
        meet = statistics.median(run.meet for run in coordinated)
        exits = statistics.median(run.exits for run in coordinated)
        print(
            f"{count:>3}  {milliseconds(wall):>10}  {milliseconds(migration):>10}  "
            f"{milliseconds(statistics.median(overheads)):>10}  "
            f"{milliseconds(max(overheads)):>12}  {milliseconds(meet):>10}  "
            f"{milliseconds(max(run.notify for run in coordinated)):>10}  "
            f"{milliseconds(exits):>10}  {kill.detected:>6.2f} s"
        )
    print(
        "Medians but for 'overhead max' and 'notify max', the slowest of all runs.\n"
        "overhead = wall - migration. meet: release to the quorum (every party "
        "plans, then joins).\nnotify: outcome recorded to the last waiting party "
        "knowing it. exits: that moment to the last exit.\nkill: SIGKILL of the "
        "applying party to the last waiting party's exit."
    )


def create_postgresql_database() -> str:
    import psycopg2

    name = f"syzygy_quorum_bench_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(dbname="postgres", **_pg())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


def drop_postgresql_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", **_pg())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


if __name__ == "__main__":
    main()
