"""``migrate --quorum`` run by real processes on Redis and on PostgreSQL.

The parties share a database the test creates: a SQLite file on the SQLite
leg of the suite, a PostgreSQL database on the PostgreSQL one. Their
migrations are written into a package of the test's own, and record each run
of their steps in the ``alpha_applylog`` table (see ``quorum_steps``).

``SYZYGY_QUORUM_STRESS=1`` runs the full 20 rounds of 8 parties, as CI's
PostgreSQL leg on Python 3.11 does; otherwise 3 rounds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from .quorum_support import closed_port, require_postgresql, require_redis

REPOSITORY = Path(__file__).resolve().parent.parent
REMOTE_FAILURE = "Error encountered by remote party while applying migration, aborting."
PARTIES = 8
# Failures are shown with fewer parties: eight Python processes exiting at
# once keep two cores busy for half a second, which says nothing about the
# quorum.
FEWER_PARTIES = 4
ROUNDS = 20 if os.environ.get("SYZYGY_QUORUM_STRESS") == "1" else 3
PATIENCE = 120.0

INITIAL = """\
from django.db import migrations, models

from tests.quorum_steps import record


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="ApplyLog",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("migration", models.CharField(max_length=100)),
                ("pid", models.IntegerField()),
            ],
        ),
        migrations.RunPython(record("0001_initial"), migrations.RunPython.noop),
    ]
"""

STEP = """\
from django.db import migrations

from tests.quorum_steps import record


class Migration(migrations.Migration):
    dependencies = [("alpha", {previous!r})]

    operations = [migrations.RunPython(record({name!r}), migrations.RunPython.noop)]
"""


class SharedDatabase:
    """The database the parties share, and what the test reads from it."""

    def __init__(self, engine: str, name: str) -> None:
        self.engine = engine
        self.name = name

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            with sqlite3.connect(self.name) as connection:
                return connection.execute(sql).fetchall()
        import psycopg2

        connection = psycopg2.connect(**_postgresql_parameters(self.name))
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            connection.close()
        return rows

    def applied(self) -> list[str]:
        """Return the migrations of alpha recorded as applied, in order."""
        try:
            return [
                name
                for (name,) in self.rows(
                    "SELECT name FROM django_migrations WHERE app = 'alpha' "
                    "ORDER BY name"
                )
            ]
        except Exception as exc:
            # No party got as far as creating the table.
            if "django_migrations" in str(exc):
                return []
            raise

    def steps(self) -> list[str]:
        """Return the steps recorded in ``alpha_applylog``, in order."""
        return [
            migration
            for (migration,) in self.rows(
                "SELECT migration FROM alpha_applylog ORDER BY migration"
            )
        ]


def _postgresql_parameters(name: str) -> dict[str, Any]:
    database = settings.DATABASES["default"]
    return {
        "dbname": name,
        "host": database["HOST"],
        "port": database["PORT"],
        "user": database["USER"],
        "password": database["PASSWORD"],
    }


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[SharedDatabase]:
    if settings.DATABASE == "sqlite":
        yield SharedDatabase("sqlite", str(tmp_path / "shared.sqlite3"))
        return
    import psycopg2

    name = f"syzygy_quorum_{uuid.uuid4().hex[:12]}"
    server = psycopg2.connect(**_postgresql_parameters("postgres"))
    server.autocommit = True
    try:
        with server.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield SharedDatabase("postgresql", name)
    finally:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.close()


@dataclass
class Party:
    """A ``migrate`` process, its output, and when it exited."""

    process: subprocess.Popen[bytes]
    output: Path
    errors: Path
    exited_at: float | None = None

    @property
    def stdout(self) -> str:
        return self.output.read_text()

    @property
    def stderr(self) -> str:
        return self.errors.read_text()

    @property
    def applies(self) -> bool:
        return "this party applies the plan." in self.stdout


@dataclass
class Deploy:
    """Parties that run ``migrate --quorum`` against the shared database."""

    directory: Path
    database: SharedDatabase
    backend: str
    redis_url: str
    package: str = field(default_factory=lambda: f"quorum_{uuid.uuid4().hex[:12]}")
    migrations: list[str] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        self.control = self.directory / "control"
        self.control.mkdir()
        self.module_directory = self.directory / self.package
        self.module_directory.mkdir()
        (self.module_directory / "__init__.py").write_text("")

    def add_migration(self, name: str) -> None:
        """Write the migration ``name``, after the previous one."""
        if self.migrations:
            text = STEP.format(previous=self.migrations[-1], name=name)
        else:
            text = INITIAL
        (self.module_directory / f"{name}.py").write_text(text)
        self.migrations.append(name)

    def environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        environment.update(
            PYTHONPATH=os.pathsep.join([str(self.directory), str(REPOSITORY)]),
            DJANGO_SETTINGS_MODULE="tests.quorum_settings",
            SYZYGY_QUORUM_TEST_DATABASE=self.database.engine,
            SYZYGY_QUORUM_TEST_NAME=self.database.name,
            SYZYGY_QUORUM_TEST_BACKEND=self.backend,
            SYZYGY_QUORUM_TEST_MIGRATIONS=self.package,
            SYZYGY_QUORUM_TEST_CONTROL=str(self.control),
            SYZYGY_QUORUM_TEST_KEY_PREFIX=self.package,
            REDIS_URL=self.redis_url,
        )
        return environment

    def start(self, parties: int, *options: str) -> list[Party]:
        """Start ``parties`` processes of ``migrate alpha --quorum <parties>``."""
        self.runs += 1
        started = []
        for number in range(parties):
            stem = self.directory / f"run{self.runs}-party{number}"
            output, errors = stem.with_suffix(".out"), stem.with_suffix(".err")
            with output.open("wb") as stdout, errors.open("wb") as stderr:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "django",
                        "migrate",
                        "alpha",
                        "--no-input",
                        "--quorum",
                        str(parties),
                        *options,
                    ],
                    cwd=REPOSITORY,
                    env=self.environment(),
                    stdout=stdout,
                    stderr=stderr,
                )
            started.append(Party(process, output, errors))
        return started

    def wait(self, parties: list[Party]) -> list[Party]:
        """Wait for ``parties`` to exit, noting when each did."""
        deadline = time.monotonic() + PATIENCE
        try:
            while any(party.exited_at is None for party in parties):
                assert time.monotonic() < deadline, "the parties never exited"
                for party in parties:
                    if party.exited_at is None and party.process.poll() is not None:
                        party.exited_at = time.time()
                time.sleep(0.005)
        finally:
            for party in parties:
                if party.process.poll() is None:
                    party.process.kill()
                    party.process.wait()
        return parties

    def run(self, parties: int, *options: str) -> list[Party]:
        return self.wait(self.start(parties, *options))


@pytest.fixture(params=["redis", "postgresql"])
def deploy(
    request: pytest.FixtureRequest, tmp_path: Path, shared_database: SharedDatabase
) -> Deploy:
    redis_url = require_redis()
    if request.param == "postgresql":
        require_postgresql()
    return Deploy(tmp_path, shared_database, request.param, redis_url)


def describe(parties: list[Party]) -> str:
    return "\n".join(
        f"--- party {number} exited {party.process.returncode}\n"
        f"{party.stdout}{party.stderr}"
        for number, party in enumerate(parties)
    )


def test_parties_apply_each_plan_exactly_once(deploy: Deploy) -> None:
    for round_number in range(1, ROUNDS + 1):
        if round_number == 1:
            deploy.add_migration("0001_initial")
        deploy.add_migration(f"{round_number + 1:04d}_round_{round_number}")
        parties = deploy.run(PARTIES)
        assert [party.process.returncode for party in parties] == [0] * PARTIES, (
            describe(parties)
        )
        assert sum(party.applies for party in parties) == 1, describe(parties)
        assert deploy.database.applied() == deploy.migrations
        assert deploy.database.steps() == deploy.migrations


def test_waiting_parties_fail_with_the_applying_party(deploy: Deploy) -> None:
    # How soon they notice is measured by benchmarks/quorum.py ("notify").
    for name in ("0001_initial", "0002_first_step", "0003_second_step"):
        deploy.add_migration(name)
    (deploy.control / "fail-0002_first_step").touch()
    parties = deploy.run(FEWER_PARTIES)
    assert (deploy.control / "failed-0002_first_step").exists()
    (applier,) = [party for party in parties if party.applies]
    assert applier.process.returncode != 0
    assert "RuntimeError: 0002_first_step fails on purpose" in applier.stderr
    for party in parties:
        if party is not applier:
            assert party.process.returncode == 1, describe(parties)
            assert f"CommandError: {REMOTE_FAILURE}\n" in party.stderr
            assert party.exited_at is not None
    assert deploy.database.applied() == ["0001_initial"]
    assert deploy.database.steps() == ["0001_initial"]


def test_a_killed_applying_party_is_noticed_and_a_new_run_applies_the_plan(
    deploy: Deploy,
) -> None:
    for name in ("0001_initial", "0002_first_step", "0003_second_step"):
        deploy.add_migration(name)
    # The applying party hangs in the first migration: nothing is committed.
    block = deploy.control / "block-0001_initial"
    block.touch()
    parties = deploy.start(FEWER_PARTIES)
    applying = deploy.control / "applying-0001_initial"
    deadline = time.monotonic() + PATIENCE
    while not applying.exists():
        assert time.monotonic() < deadline, describe(deploy.wait(parties))
        time.sleep(0.01)
    time.sleep(0.05)
    applier_pid = int(applying.read_text())
    os.kill(applier_pid, signal.SIGKILL)
    deploy.wait(parties)
    for party in parties:
        if party.process.pid == applier_pid:
            assert party.process.returncode == -signal.SIGKILL
            continue
        assert party.process.returncode == 1, describe(parties)
        assert "was lost: " in party.stderr or "given up as lost" in party.stderr
        assert "Aborting; run the command again to retry." in party.stderr
        # Noticed by the liveness check, not at --quorum-timeout (how soon is
        # measured by benchmarks/quorum.py, "kill").
        assert party.exited_at is not None
    assert deploy.database.applied() == []
    # The same command, run again, meets in a fresh round and applies the plan.
    block.unlink()
    parties = deploy.run(PARTIES)
    assert [party.process.returncode for party in parties] == [0] * PARTIES, describe(
        parties
    )
    assert deploy.database.applied() == deploy.migrations
    assert deploy.database.steps() == deploy.migrations


def test_an_unreachable_redis_fails_before_anything_is_applied(
    tmp_path: Path, shared_database: SharedDatabase
) -> None:
    deploy = Deploy(
        tmp_path, shared_database, "redis", f"redis://127.0.0.1:{closed_port()}/0"
    )
    deploy.add_migration("0001_initial")
    parties = deploy.run(2)
    for party in parties:
        assert party.process.returncode == 1, describe(parties)
        assert party.stderr.startswith(
            "CommandError: The cache 'quorum' of the quorum "
            "(django_redis.cache.RedisCache) is unavailable: "
        )
        assert "Connection refused" in party.stderr
    assert deploy.database.applied() == []
