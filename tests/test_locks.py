from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.conf import LockPolicy
from syzygy.executor import (
    LockWaitsExhausted,
    StageAwareMigrationExecutor,
    deploy_stage,
)
from syzygy.locks import retry_delays
from tests.migrations_scenarios import data_migrations, locks

from .catalogue import table_columns

Scenario = Callable[[str], None]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="bounded lock waits apply on PostgreSQL (SYZYGY_TEST_DATABASE=postgresql)",
)


def test_retry_delays_back_off_with_jitter() -> None:
    policy = LockPolicy(
        lock_timeout=0.2, statement_timeout=None, retries=8, retry_delay=0.5
    )
    delays = list(retry_delays(policy, random.Random(7)))
    assert len(delays) == 8
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(
        0.25 <= delay <= ceiling
        for delay, ceiling in zip(delays, ceilings, strict=True)
    )
    assert list(retry_delays(LockPolicy(0.2, None, 0, 0.5))) == []


class TableLock:
    """Hold a lock on a table from another connection, like a long transaction."""

    application_name = "syzygy tests: lock holder"

    def __init__(self, table: str) -> None:
        settings = connection.settings_dict
        self.connection = psycopg2.connect(
            dbname=settings["NAME"],
            host=settings["HOST"],
            port=settings["PORT"],
            user=settings["USER"],
            password=settings["PASSWORD"],
            application_name=self.application_name,
        )
        self.table = table
        self.pid = self.connection.get_backend_pid()

    def hold(self) -> None:
        with self.connection.cursor() as cursor:
            # Any open transaction that read the table blocks ALTER TABLE.
            cursor.execute(f"SELECT count(*) FROM {self.table}")

    def release(self) -> None:
        self.connection.rollback()

    def named(self, query: str) -> str:
        """Return a pattern of how syzygy names this session, idle in the
        transaction it opened with ``query``."""
        return (
            rf"pid {self.pid} \(application 'syzygy tests: lock holder', idle in "
            rf"transaction, in a transaction for \d+\.\d s, query "
            rf"{re.escape(repr(query))}\)"
        )

    @contextmanager
    def held_for(self, seconds: float) -> Iterator[None]:
        """Hold the lock for ``seconds`` from now, while the block runs."""
        self.hold()
        release = threading.Timer(seconds, self.release)
        release.start()
        try:
            yield
        finally:
            release.cancel()
            self.release()

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def author_lock(use_scenario: Scenario) -> Iterator[TableLock]:
    """Migrate the locks scenario to 0001; give a lock on its table."""
    use_scenario("locks")
    call_command("migrate", "alpha", "0001", verbosity=0)
    lock = TableLock("alpha_author")
    yield lock
    lock.close()


def applied(name: str) -> int:
    recorder = MigrationRecorder(connection)
    return recorder.migration_qs.filter(app="alpha", name=name).count()


@postgresql_only
def test_migration_runs_with_local_lock_and_statement_timeouts(
    use_scenario: Scenario,
) -> None:
    use_scenario("locks")
    locks.seen_timeouts.clear()
    with override_settings(SYZYGY_LOCK_TIMEOUT=0.15, SYZYGY_STATEMENT_TIMEOUT=30):
        call_command("migrate", "alpha", verbosity=0)
    # 0003 isn't atomic: each of its statements gets a transaction of its own.
    assert locks.seen_timeouts == [("150ms", "30s"), ("150ms", "30s")]
    # SET LOCAL ended with the migration's transaction.
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",)


@postgresql_only
@pytest.mark.parametrize(
    ("start", "target", "action", "applied_after"),
    [("0001", "0002", "Applying", 1), ("0002", "0001", "Unapplying", 0)],
)
def test_migration_retries_until_a_conflicting_lock_is_released(
    author_lock: TableLock, start: str, target: str, action: str, applied_after: int
) -> None:
    call_command("migrate", "alpha", start, verbosity=0)
    stdout = StringIO()
    with (
        author_lock.held_for(1.5),
        override_settings(SYZYGY_LOCK_TIMEOUT=0.1, SYZYGY_LOCK_RETRY_DELAY=0.1),
    ):
        call_command("migrate", "alpha", target, stdout=stdout, no_color=True)
    output = stdout.getvalue()
    # The retry line names the session that holds the lock.
    holder = author_lock.named("SELECT count(*) FROM alpha_author")
    assert re.search(
        rf"{action} alpha\.0002_author_rating\.\.\. lock wait timed out"
        rf": blocked by {holder}; retrying in \d\.\d\d s\n",
        output,
    )
    assert f"{action} alpha.0002_author_rating... OK" in output
    assert applied("0002_author_rating") == applied_after
    assert ("rating" in table_columns("alpha_author")) is bool(applied_after)


@postgresql_only
def test_migration_gives_up_after_its_retries_and_applies_nothing(
    author_lock: TableLock,
) -> None:
    author_lock.hold()
    try:
        with (
            override_settings(
                SYZYGY_LOCK_TIMEOUT=0.05,
                SYZYGY_LOCK_RETRIES=2,
                SYZYGY_LOCK_RETRY_DELAY=0.05,
            ),
            pytest.raises(CommandError) as raised,
        ):
            call_command("migrate", "alpha", "0002", verbosity=0)
    finally:
        author_lock.release()
    assert re.fullmatch(
        r"Gave up on alpha\.0002_author_rating: its locks could not be taken within "
        r"SYZYGY_LOCK_TIMEOUT \(0\.05 s\) in 3 attempts; nothing of it was applied\. "
        rf"Blocked by {author_lock.named('SELECT count(*) FROM alpha_author')}, "
        r"which holds a lock on a table it changes: run the command again once it "
        r"ends, or raise SYZYGY_LOCK_RETRIES\.",
        str(raised.value),
    )
    assert applied("0002_author_rating") == 0
    assert "rating" not in table_columns("alpha_author")
    # Once the transaction ends, the same command succeeds.
    call_command("migrate", "alpha", verbosity=0)
    assert applied("0002_author_rating") == 1


@postgresql_only
def test_other_errors_are_not_retried(use_scenario: Scenario) -> None:
    use_scenario("locks")
    call_command("migrate", "alpha", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE alpha_author ADD COLUMN rating integer")
    with pytest.raises(Exception, match="already exists"):
        call_command("migrate", "alpha", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE alpha_author DROP COLUMN rating")


@postgresql_only
@pytest.mark.parametrize(
    ("settings", "seen"),
    [
        ({"SYZYGY_LOCK_TIMEOUT": None}, ("0", "0")),
        (
            {"SYZYGY_LOCK_TIMEOUT": None, "SYZYGY_STATEMENT_TIMEOUT": 2.5},
            ("0", "2500ms"),
        ),
    ],
)
def test_timeouts_can_be_turned_off(
    use_scenario: Scenario, settings: dict[str, object], seen: tuple[str, str]
) -> None:
    use_scenario("locks")
    locks.seen_timeouts.clear()
    with override_settings(**settings):
        call_command("migrate", "alpha", "0002", verbosity=0)
    assert locks.seen_timeouts == [seen]


@postgresql_only
def test_fake_migrations_take_no_lock(use_scenario: Scenario) -> None:
    use_scenario("locks")
    locks.seen_timeouts.clear()
    call_command("migrate", "alpha", "0002", fake=True, verbosity=0)
    assert locks.seen_timeouts == []
    assert applied("0002_author_rating") == 1
    call_command("migrate", "alpha", "zero", fake=True, verbosity=0)


@postgresql_only
def test_statement_timeouts_are_not_retried(author_lock: TableLock) -> None:
    author_lock.hold()
    stdout = StringIO()
    try:
        with (
            override_settings(SYZYGY_LOCK_TIMEOUT=None, SYZYGY_STATEMENT_TIMEOUT=0.1),
            pytest.raises(OperationalError, match="statement timeout"),
        ):
            call_command("migrate", "alpha", "0002", stdout=stdout)
    finally:
        author_lock.release()
    assert "retrying" not in stdout.getvalue()
    assert applied("0002_author_rating") == 0


@postgresql_only
def test_lock_waits_are_bounded_only_in_a_deploy_stage(author_lock: TableLock) -> None:
    target = [("alpha", "0002_author_rating")]
    with override_settings(SYZYGY_LOCK_TIMEOUT=0.1, SYZYGY_LOCK_RETRIES=0):
        author_lock.hold()
        try:
            with deploy_stage(Stage.POST_DEPLOY), pytest.raises(LockWaitsExhausted):
                StageAwareMigrationExecutor(connection).migrate(target)
        finally:
            author_lock.release()
        assert applied("0002_author_rating") == 0
        # Outside of syzygy's migrate, the executor waits as Django's does.
        with author_lock.held_for(0.5):
            StageAwareMigrationExecutor(connection).migrate(target)
    assert applied("0002_author_rating") == 1


@pytest.mark.parametrize("pre_deploy", [False, True])
def test_data_migrations_run_as_django_runs_them(
    use_scenario: Scenario, pre_deploy: bool
) -> None:
    """Iterators on server-side cursors, atomic blocks and raw SQL of data
    migrations, atomic or not, run under the bounds as without them."""
    use_scenario("data_migrations")
    # A recorded migration makes --pre-deploy plan for a deploy.
    call_command("migrate", "alpha", "0001", verbosity=0)
    data_migrations.seen_lock_timeouts.clear()
    with override_settings(SYZYGY_LOCK_TIMEOUT=0.25):
        call_command("migrate", "alpha", pre_deploy=pre_deploy, verbosity=0)
    if connection.vendor == "postgresql":
        # 0003 once, then each of the 20 transactions 0004 opens itself.
        assert data_migrations.seen_lock_timeouts == ["250ms"] * 21
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position, label FROM alpha_item ORDER BY id")
        rows = cursor.fetchall()
    assert rows == [
        (f"item {number}", number, f"ITEM {number}!") for number in range(20)
    ]
    call_command("migrate", "alpha", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM alpha_item")
        assert cursor.fetchone() == (0,)
