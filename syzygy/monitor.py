"""Watch the session that runs a migration on PostgreSQL, from another one.

While a statement of a migration runs, a thread looks at its session from a
connection of its own, opened the first time a statement runs long enough to
be worth it. It notes which sessions block the statement when it waits for a
lock, so that a lock timeout can name them, and shows how far an index build
(``pg_stat_progress_create_index``) or a constraint validation has got, as
backfills show theirs: a bar on a terminal, a few lines elsewhere.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .locks import abridged

if TYPE_CHECKING:
    from .batches import Stream
    from .conf import LockPolicy

__all__ = ("BlockingSession", "SessionMonitor", "describe_sessions", "recent_blockers")

# How long a statement runs before its progress is shown, and how often it
# is looked at then.
PROGRESS_AFTER = 1.0
PROGRESS_EVERY = 0.5
# Without a terminal: a line when the phase changes, at each tenth of a
# phase, and at least this often.
HEARTBEAT = 30.0
# How long what was seen is kept.
MEMORY = 60.0
# Seconds the monitor waits at most to connect, and for each of its queries.
MONITOR_TIMEOUT = 5

_INDEX_BUILD = re.compile(
    r"^\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|REINDEX\s+INDEX)\s+(?:CONCURRENTLY\s+)?"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\"[^\"]+\"|\S+)",
    re.IGNORECASE,
)
_VALIDATION = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>\"[^\"]+\"|\S+)\s+"
    r"VALIDATE\s+CONSTRAINT\s+(?P<name>\"[^\"]+\"|\S+)",
    re.IGNORECASE,
)

_BLOCKERS = """
SELECT blocking.pid, blocking.application_name, blocking.state,
       EXTRACT(EPOCH FROM now() - blocking.xact_start)::float8, blocking.query
FROM pg_stat_activity AS waiting
CROSS JOIN LATERAL unnest(pg_blocking_pids(waiting.pid)) AS blocker(pid)
JOIN pg_stat_activity AS blocking ON blocking.pid = blocker.pid
WHERE waiting.pid = %s AND waiting.wait_event_type = 'Lock'
ORDER BY blocking.pid
"""
_INDEX_PROGRESS = """
SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total,
       lockers_done, lockers_total, current_locker_pid
FROM pg_stat_progress_create_index WHERE pid = %s
"""


@dataclass(frozen=True)
class BlockingSession:
    """A session that holds a lock another one waits for."""

    pid: int
    application_name: str
    state: str | None
    transaction_seconds: float | None
    query: str

    def __str__(self) -> str:
        details = []
        if self.application_name:
            details.append(f"application {self.application_name!r}")
        if self.state:
            details.append(self.state)
        if self.transaction_seconds is not None:
            details.append(f"in a transaction for {self.transaction_seconds:.1f} s")
        if self.query:
            details.append(f"query {abridged(self.query, 60)!r}")
        return (
            f"pid {self.pid} ({', '.join(details)})" if details else f"pid {self.pid}"
        )


def describe_sessions(sessions: list[BlockingSession]) -> str:
    """Return ``sessions`` as one phrase: "pid 1 (...) and pid 2 (...)"."""
    names = [str(session) for session in sessions]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _unquoted(name: str) -> str:
    return name.strip('"')


def _progress_label(sql: str) -> tuple[str | None, bool]:
    """Return how the progress of ``sql`` is labelled (``None`` if it has
    none to show), and whether it builds an index."""
    if match := _INDEX_BUILD.match(sql):
        return f"Building index {_unquoted(match['name'])}", True
    if match := _VALIDATION.match(sql):
        name, table = _unquoted(match["name"]), _unquoted(match["table"])
        return f"Validating constraint {name} on {table}", False
    return None, False


@dataclass
class _Statement:
    pid: int
    started: float
    label: str | None
    builds_index: bool
    report: _Report | None = None
    looked_at_progress: float = 0.0


class SessionMonitor:
    """Watch the statements a connection runs while ``watching`` it."""

    def __init__(
        self, connection: BaseDatabaseWrapper, policy: LockPolicy, output: Stream | None
    ) -> None:
        self.connection = connection
        # A few looks at a statement before it times out waiting for a lock.
        self.interval = min(max((policy.lock_timeout or 1.0) / 4, 0.01), 0.25)
        # What was seen during the last wait for a lock.
        self.window = (policy.lock_timeout or 0.0) + 2 * self.interval
        self.output = output
        self._condition = threading.Condition()
        self._statement: _Statement | None = None
        self._seen: list[tuple[float, list[BlockingSession]]] = []
        self._closed = False
        # Whether the output's last line is unfinished ("Applying ...").
        self._mid_line = True
        self._thread = threading.Thread(
            target=self._run, name="syzygy session monitor", daemon=True
        )
        self._thread.start()

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Watch each statement the connection runs in this block."""

        def watch(
            execute: Callable[..., Any],
            sql: str,
            params: Any,
            many: bool,
            context: Any,
        ) -> Any:
            statement = self._started(str(sql))
            try:
                result = execute(sql, params, many, context)
            except BaseException:
                self._finished(statement, failed=True)
                raise
            self._finished(statement, failed=False)
            return result

        _watched[id(self.connection)] = self
        self._mid_line = True
        try:
            with self.connection.execute_wrapper(watch):
                yield
        finally:
            _watched.pop(id(self.connection), None)

    def blockers(self) -> list[BlockingSession]:
        """Return the sessions seen blocking a statement during its last wait
        for a lock, the latest sighting of each."""
        since = time.monotonic() - self.window
        with self._condition:
            seen = {
                session.pid: session
                for moment, sessions in self._seen
                if moment >= since
                for session in sessions
            }
        return sorted(seen.values(), key=lambda session: session.pid)

    def close(self) -> None:
        """Stop watching; close the monitor's connection."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join()

    def _started(self, sql: str) -> _Statement:
        statement = _Statement(
            self.connection.connection.info.backend_pid,
            time.monotonic(),
            *_progress_label(sql),
        )
        with self._condition:
            self._statement = statement
            self._condition.notify_all()
        return statement

    def _finished(self, statement: _Statement, failed: bool) -> None:
        with self._condition:
            self._statement = None
            if statement.report is not None:
                statement.report.finish(failed)
                self._mid_line = False
            self._condition.notify_all()

    def _run(self) -> None:
        session = _Session(self.connection)
        try:
            while (statement := self._next_look()) is not None:
                if not session.open():
                    return
                self._look(session, statement)
                with self._condition:
                    self._condition.wait_for(
                        lambda: self._closed or self._statement is not statement,
                        self.interval,
                    )
        finally:
            session.close()

    def _next_look(self) -> _Statement | None:
        """Wait until a statement has run for an interval; return it, or
        ``None`` once closed."""
        with self._condition:
            while not self._closed:
                statement = self._statement
                if statement is None:
                    self._condition.wait()
                    continue
                remaining = statement.started + self.interval - time.monotonic()
                if remaining <= 0:
                    return statement
                self._condition.wait(remaining)
        return None

    def _look(self, session: _Session, statement: _Statement) -> None:
        rows = session.query(_BLOCKERS, statement.pid)
        if rows:
            now = time.monotonic()
            with self._condition:
                self._seen = [
                    (moment, sessions)
                    for moment, sessions in self._seen
                    if moment >= now - MEMORY
                ]
                self._seen.append((now, [BlockingSession(*row) for row in rows]))
        now = time.monotonic()
        if (
            self.output is None
            or statement.label is None
            or now - statement.started < PROGRESS_AFTER
            or now - statement.looked_at_progress < PROGRESS_EVERY
        ):
            return
        statement.looked_at_progress = now
        progress = None
        if statement.builds_index:
            rows = session.query(_INDEX_PROGRESS, statement.pid)
            if not rows:
                # Not started, or done: nothing to show.
                return
            progress = rows[0]
        with self._condition:
            if self._statement is not statement:  # pragma: no cover (a race)
                # It ended while its progress was read.
                return
            if statement.report is None:
                statement.report = _Report(statement, self.output, self._mid_line)
            statement.report.show(progress)


# The monitors watching a connection now, by the connection's id.
_watched: dict[int, SessionMonitor] = {}


def recent_blockers(connection: BaseDatabaseWrapper) -> list[BlockingSession]:
    """Return the sessions seen blocking the last wait for a lock of a
    statement on ``connection``, if a monitor watches it."""
    monitor = _watched.get(id(connection))
    return [] if monitor is None else monitor.blockers()


class _Session:
    """The monitor's own connection: opened when first needed, in autocommit,
    given up for good at its first error."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.watched = connection
        # The driver module: psycopg or psycopg2.
        self.driver: Any = connection.Database  # type: ignore[attr-defined]
        self.raw: Any = None
        self.broken = False

    def open(self) -> bool:
        if self.raw is None and not self.broken:
            try:
                params = self.watched.get_connection_params()
                params["application_name"] = "syzygy migrate monitor"
                # Never keep migrate waiting for the monitor.
                params.setdefault("connect_timeout", MONITOR_TIMEOUT)
                self.raw = self.driver.connect(**params)
                self.raw.autocommit = True
                with self.raw.cursor() as cursor:
                    cursor.execute(f"SET statement_timeout = {MONITOR_TIMEOUT * 1000}")
            except self.driver.Error:
                self.close()
                self.broken = True
        return self.raw is not None

    def query(self, sql: str, pid: int) -> list[tuple[Any, ...]]:
        try:
            with self.raw.cursor() as cursor:
                cursor.execute(sql, [pid])
                return list(cursor.fetchall())
        except self.driver.Error:
            self.close()
            self.broken = True
            return []

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
            self.raw = None


class _Report:
    """The progress of one statement on migrate's output."""

    def __init__(self, statement: _Statement, output: Stream, mid_line: bool) -> None:
        self.statement = statement
        self.output = output
        self.terminal = output.isatty()
        if mid_line:
            self.output.write("\n")
        assert statement.label is not None
        self.label = statement.label
        self.shown: tuple[str, int] | None = None
        self.shown_at = 0.0

    def show(self, progress: tuple[Any, ...] | None) -> None:
        phase, tenths, detail = _progress(progress)
        now = time.monotonic()
        elapsed = f"{now - self.statement.started:.1f} s elapsed"
        line = (
            f"  {self.label}: {detail}, {elapsed}"
            if detail
            else f"  {self.label}: {elapsed}"
        )
        if self.terminal:
            self.output.write(f"\r{line}\033[K")
        elif (phase, tenths) != self.shown or now - self.shown_at >= HEARTBEAT:
            self.output.write(f"{line}\n")
        else:
            return
        self.shown, self.shown_at = (phase, tenths), now
        self.output.flush()

    def finish(self, failed: bool) -> None:
        outcome = "stopped after" if failed else "finished in"
        elapsed = time.monotonic() - self.statement.started
        line = f"  {self.label}: {outcome} {elapsed:.1f} s"
        self.output.write(f"\r{line}\033[K\n" if self.terminal else f"{line}\n")
        self.output.flush()


def _progress(row: tuple[Any, ...] | None) -> tuple[str, int, str]:
    """Return the phase of an index build, the tenths of it done, and both
    described, from its row of ``pg_stat_progress_create_index``."""
    if row is None:
        return "", -1, ""
    phase, *counts, locker = row
    detail = phase
    tenths = -1
    for (done, total), unit in zip(
        zip(counts[::2], counts[1::2], strict=True),
        ("blocks", "tuples", "transactions"),
        strict=True,
    ):
        if total:
            tenths = min(10 * done // total, 10)
            detail += f", {done:,}/{total:,} {unit} ({min(100 * done // total, 100)}%)"
            break
    if locker:
        detail += f", waiting for pid {locker}"
    return phase, tenths, detail
