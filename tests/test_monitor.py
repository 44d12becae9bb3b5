"""The monitor of a migration's session on a real PostgreSQL: progress of
index builds and validations, and its own connection."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test.utils import override_settings

from syzygy import conf, monitor
from syzygy.monitor import SessionMonitor
from tests.test_locks import TableLock, applied

Scenario = Callable[[str], None]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the session monitor watches PostgreSQL (SYZYGY_TEST_DATABASE=postgresql)",
)


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Show progress of statements that run a fifth of a second."""
    monkeypatch.setattr(monitor, "PROGRESS_AFTER", 0.2)
    monkeypatch.setattr(monitor, "PROGRESS_EVERY", 0.1)


def monitor_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'syzygy migrate monitor' "
            # Not those of a suite running beside on another database.
            "AND datname = current_database()"
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.fixture
def writer(use_scenario: Scenario) -> Iterator[TableLock]:
    """Migrate the lock_safe scenario to 0001; give a session that can hold
    a transaction writing to its table."""
    use_scenario("lock_safe")
    call_command("migrate", "alpha", "0001", verbosity=0)
    lock = TableLock("alpha_book")
    yield lock
    lock.close()


def test_an_index_build_shows_its_phases_and_whom_it_waits_for(
    writer: TableLock, quick_progress: None
) -> None:
    # CREATE INDEX CONCURRENTLY waits for the transactions writing the table.
    with writer.connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_book (title, pages) VALUES ('held', 1)")
    release = threading.Timer(1.0, writer.release)
    release.start()
    stdout = StringIO()
    try:
        call_command("migrate", "alpha", "0002", stdout=stdout, no_color=True)
    finally:
        release.cancel()
    output = stdout.getvalue()
    assert re.search(
        r"Applying alpha\.0002_book_title_index\.\.\.\n"
        r"  Building index book_title_idx: waiting for writers before build, "
        rf"0/1 transactions \(0%\), waiting for pid {writer.pid}, \d\.\d s elapsed\n",
        output,
    )
    # A line per phase or tenth of it, not one per look.
    waiting = output.count("waiting for writers before build")
    assert waiting == 1
    assert re.search(
        r"\n  Building index book_title_idx: finished in \d\.\d s\n OK\n", output
    )
    assert monitor_sessions() == 0


def test_a_quick_index_build_shows_nothing(writer: TableLock) -> None:
    stdout = StringIO()
    call_command("migrate", "alpha", "0002", stdout=stdout, no_color=True)
    assert "Applying alpha.0002_book_title_index... OK\n" in stdout.getvalue()


@pytest.fixture
def slow_check(transactional_db: None) -> Iterator[str]:
    """Make a table of three rows whose check takes a third of a second a row
    to validate; return the statement that validates it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION syzygy_test_slowly_true(integer) RETURNS boolean "
            "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN true; END $$"
        )
        cursor.execute("CREATE TABLE syzygy_test_slow (id integer)")
        cursor.execute("INSERT INTO syzygy_test_slow VALUES (1), (2), (3)")
        cursor.execute(
            'ALTER TABLE syzygy_test_slow ADD CONSTRAINT "slow_check" '
            "CHECK (syzygy_test_slowly_true(id)) NOT VALID"
        )
    yield 'ALTER TABLE "syzygy_test_slow" VALIDATE CONSTRAINT "slow_check"'
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE syzygy_test_slow")
        cursor.execute("DROP FUNCTION syzygy_test_slowly_true(integer)")


def watched(output: StringIO, *statements: str) -> None:
    """Run ``statements`` under a monitor that writes to ``output``."""
    session_monitor = SessionMonitor(connection, conf.lock_policy(), output)
    try:
        with session_monitor.watching(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        session_monitor.close()


def test_a_validation_shows_how_long_it_runs(
    slow_check: str, quick_progress: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = StringIO()
    # A line every fifth of a second, instead of every half minute.
    monkeypatch.setattr(monitor, "HEARTBEAT", 0.2)
    watched(output, slow_check)
    lines = output.getvalue().splitlines()
    assert lines[0] == ""
    running = [
        line
        for line in lines
        if re.fullmatch(
            r"  Validating constraint slow_check on syzygy_test_slow: "
            r"\d\.\d s elapsed",
            line,
        )
    ]
    assert 2 <= len(running) <= 5
    assert re.fullmatch(
        r"  Validating constraint slow_check on syzygy_test_slow: finished in "
        r"\d\.\d s",
        lines[-1],
    )


def test_progress_on_a_terminal_is_one_line_rewritten(
    slow_check: str, quick_progress: None
) -> None:
    output = Terminal()
    watched(output, slow_check)
    text = output.getvalue()
    # Below the unfinished line of the migration.
    assert text.startswith("\n")
    assert "\n" not in text[1:-1]
    assert text.count("\r") >= 3
    assert re.search(
        r"\r  Validating constraint slow_check on syzygy_test_slow: finished in "
        r"\d\.\d s\x1b\[K\n$",
        text,
    )


def test_a_failing_statement_says_it_stopped(
    slow_check: str, quick_progress: None
) -> None:
    output = StringIO()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 500")
    try:
        with pytest.raises(OperationalError, match="statement timeout"):
            watched(output, slow_check)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    assert re.search(
        r"\n  Validating constraint slow_check on syzygy_test_slow: stopped after "
        r"0\.\d s\n$",
        output.getvalue(),
    )


def test_index_progress_is_described_by_phase_and_share_done() -> None:
    row = ("building index: scanning table", 1234, 5678, 0, 0, 0, 0, 0)
    assert monitor._progress(row) == (
        "building index: scanning table",
        2,
        "building index: scanning table, 1,234/5,678 blocks (21%)",
    )
    row = ("building index: loading tuples in tree", 0, 0, 10, 40, 0, 0, 0)
    assert monitor._progress(row)[1:] == (
        2,
        "building index: loading tuples in tree, 10/40 tuples (25%)",
    )
    assert monitor._progress(("initializing", 0, 0, 0, 0, 0, 0, None)) == (
        "initializing",
        -1,
        "initializing",
    )


def test_migrations_run_when_the_monitor_cannot_connect(
    writer: TableLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor only informs: without its connection (no free connection
    slot, say), locks are waited for and retried as before, unnamed."""
    connection.ensure_connection()
    # The migration's own connection is open; new ones fail.
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    writer.hold()
    stdout = StringIO()
    try:
        with override_settings(SYZYGY_LOCK_TIMEOUT=0.1, SYZYGY_LOCK_RETRY_DELAY=0.1):
            release = threading.Timer(0.5, writer.release)
            release.start()
            call_command("migrate", "alpha", "0003", stdout=stdout, no_color=True)
    finally:
        release.cancel()
        writer.release()
    output = stdout.getvalue()
    assert "lock wait timed out (a transaction holds a lock it needs)" in output
    assert output.endswith(" OK\n")
    assert applied("0003_book_constraints") == 1


def test_giving_up_without_a_monitor_names_no_session(
    writer: TableLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection.ensure_connection()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    writer.hold()
    try:
        with (
            override_settings(SYZYGY_LOCK_TIMEOUT=0.05, SYZYGY_LOCK_RETRIES=0),
            pytest.raises(CommandError) as raised,
        ):
            call_command("migrate", "alpha", "0003", verbosity=0)
    finally:
        writer.release()
    assert str(raised.value).endswith(
        "A long-running transaction holds a lock on a table it changes: run the "
        "command again once it ends, or raise SYZYGY_LOCK_RETRIES."
    )


def test_sessions_are_named_with_what_is_known_of_them() -> None:
    first = monitor.BlockingSession(
        pid=7,
        application_name="",
        state=None,
        transaction_seconds=None,
        query="",
    )
    second = monitor.BlockingSession(
        pid=9,
        application_name="worker",
        state="active",
        transaction_seconds=61.25,
        query="UPDATE alpha_book SET title = 'a much longer title than fits here' "
        "WHERE id = 1",
    )
    assert str(first) == "pid 7"
    assert monitor.describe_sessions([first, second]) == (
        "pid 7 and pid 9 (application 'worker', active, in a transaction for "
        "61.2 s, query \"UPDATE alpha_book SET title = 'a much longer title than "
        'f...")'
    )


def test_a_monitor_that_loses_its_connection_stops_watching(
    slow_check: str, quick_progress: None
) -> None:
    output = StringIO()

    def terminate_the_monitor() -> None:
        # A connection of this thread's: the test's own is busy validating.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'syzygy migrate monitor' "
                # Not those of a suite running beside on another database.
                "AND datname = current_database()"
            )
        connection.close()

    terminate = threading.Timer(0.5, terminate_the_monitor)
    terminate.start()
    watched(output, slow_check)
    terminate.join()
    lines = output.getvalue().splitlines()
    # It showed progress until it lost its connection, and the end.
    assert 1 <= len(lines) - 2 <= 3
    assert "finished in" in lines[-1]
    assert monitor_sessions() == 0


def test_a_statement_waiting_for_a_lock_has_its_blockers_noted(
    writer: TableLock, quick_progress: None
) -> None:
    """A plain CREATE INDEX waits for the transactions writing the table
    before its build starts: the monitor notes them, and nothing to show."""
    with writer.connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_book (title, pages) VALUES ('held', 1)")
    release = threading.Timer(0.6, writer.release)
    release.start()
    output = StringIO()
    session_monitor = SessionMonitor(connection, conf.lock_policy(), output)
    try:
        with session_monitor.watching(), connection.cursor() as cursor:
            cursor.execute('CREATE INDEX "book_pages_idx" ON "alpha_book" ("pages")')
        [blocker] = session_monitor.blockers()
    finally:
        release.cancel()
        session_monitor.close()
    assert re.fullmatch(
        writer.named("INSERT INTO alpha_book (title, pages) VALUES ('held', 1)"),
        str(blocker),
    )
    # Nothing was shown while it waited: only, by chance, its quick build.
    shown = [line for line in output.getvalue().splitlines() if line]
    assert all(": building index" in line or "finished in" in line for line in shown)
    # Batches ask for the blockers of a watched connection only.
    assert monitor.recent_blockers(connection) == []
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "book_pages_idx"')


def test_a_monitor_that_saw_no_statement_opens_nothing_and_stops(
    transactional_db: None,
) -> None:
    session_monitor = SessionMonitor(connection, conf.lock_policy(), None)
    time.sleep(0.3)
    # It waits for a statement without a connection of its own.
    assert monitor_sessions() == 0
    session_monitor.close()
    assert not session_monitor._thread.is_alive()
    assert session_monitor.blockers() == []


def test_progress_of_statements_in_a_row_follows_on(
    slow_check: str, quick_progress: None
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            'ALTER TABLE syzygy_test_slow ADD CONSTRAINT "slower_check" '
            "CHECK (syzygy_test_slowly_true(id + 1)) NOT VALID"
        )
    output = StringIO()
    watched(output, slow_check, slow_check.replace("slow_check", "slower_check"))
    lines = output.getvalue().splitlines()
    # One line break below the migration's line, then one line after another.
    assert lines[0] == ""
    assert "" not in lines[1:]
    assert sum("finished in" in line for line in lines) == 2
