"""A quorum on a PostgreSQL database, such as the migrated one: no cache needed.

The quorum lives in a small table, created on first use. ``migrate
--quorum`` meets in rounds, one row each; joins are serialised by an
advisory lock of the namespace held for one transaction. The party that
completes the quorum takes a session-level advisory lock of the round before
its join commits, and releases it only once it has recorded the outcome.
Waiting parties block on that lock: they wake the moment it is released,
whether the applying party finished or its session ended because its
process died. The applying party also heartbeats into the row, and waiting
parties compare the heartbeat with the database's clock, which catches a
party that hangs with its session open.

Every party uses connections of its own, never those of the migration, and
needs a session of its own on the server: not a connection pooler in
transaction mode.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, Error, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ...compat import new_connection
from ...conf import QuorumLiveness, positive_seconds, quorum_liveness
from ...locks import is_lock_timeout
from ..exceptions import QuorumDissolved, QuorumTimeout, QuorumUnavailable
from ..waiting import Backoff, Deadline, Heartbeat
from .base import Outcome, Party, QuorumBase

__all__ = ("PostgreSQLQuorum",)

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TABLE_COMMENT = "syzygy quorum"
_GO = "go"
_ABANDONED = "abandoned"


def _lock_key(*parts: object) -> int:
    """Return a signed 64-bit advisory lock key for ``parts``."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgreSQLQuorum(QuorumBase):
    """A quorum kept in ``table`` of the PostgreSQL database ``alias``.

    Rows untouched for ``timeout`` seconds are deleted as expired.
    """

    def __init__(
        self,
        alias: str = DEFAULT_DB_ALIAS,
        table: str = "syzygy_quorum",
        timeout: int = 3600,
    ) -> None:
        if alias not in settings.DATABASES:
            raise ImproperlyConfigured(
                f"PostgreSQLQuorum's alias is {alias!r}, which is not in the "
                f"DATABASES setting; accepted values are "
                f"{', '.join(map(repr, settings.DATABASES))}."
            )
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ImproperlyConfigured(
                f"PostgreSQLQuorum's table is {table!r}; it must be a table name "
                f"of letters, digits and underscores."
            )
        positive_seconds(timeout, "PostgreSQLQuorum's timeout")
        vendor = connections[alias].vendor
        if vendor != "postgresql":
            raise ImproperlyConfigured(
                f"PostgreSQLQuorum needs a PostgreSQL database, and the database "
                f"{alias!r} is {vendor}; use CacheQuorum instead."
            )
        self.alias = alias
        self.table = table
        self.timeout = timeout

    def session(self) -> Session:
        """Open a connection of its own to the database of the quorum."""
        return Session(self)

    def unavailable(self, cause: object) -> QuorumUnavailable:
        """Return the error of a database that failed."""
        return QuorumUnavailable(
            f"The database {self.alias!r} of the quorum is unavailable: {cause}"
        )

    def join(self, namespace: str, quorum: int) -> bool:
        with self.session() as session:
            (joined,) = session.fetch_one(
                f"INSERT INTO {session.table} (namespace, round, joined, polls_left) "
                f"VALUES (%s, 0, 1, %s) ON CONFLICT (namespace, round) DO UPDATE "
                f"SET joined = {session.table}.joined + 1, updated_at = now() "
                f"RETURNING joined",
                [namespace, quorum - 1],
            )
        return bool(joined == quorum)

    def sever(self, namespace: str, quorum: int) -> None:
        with self.session() as session:
            session.execute(
                f"INSERT INTO {session.table} (namespace, round, joined, polls_left) "
                f"VALUES (%s, 0, %s, %s) ON CONFLICT (namespace, round) DO UPDATE "
                f"SET joined = {session.table}.joined - %s, updated_at = now()",
                [namespace, -quorum, quorum - 1, quorum],
            )

    def poll(self, namespace: str, quorum: int) -> bool:
        with self.session() as session:
            row = session.fetch_optional(
                f"SELECT joined FROM {session.table} "
                f"WHERE namespace = %s AND round = 0",
                [namespace],
            )
            count = None if row is None else row[0]
            if count is not None and count != quorum and count > 0:
                return False
            # Every party but the one that completed the quorum polls once it
            # is reached; the last poll deletes the row.
            polled = session.fetch_optional(
                f"UPDATE {session.table} "
                f"SET polls_left = polls_left - 1, updated_at = now() "
                f"WHERE namespace = %s AND round = 0 RETURNING polls_left",
                [namespace],
            )
            if polled is not None and polled[0] <= 0:
                session.execute(
                    f"DELETE FROM {session.table} WHERE namespace = %s AND round = 0",
                    [namespace],
                )
        if count == quorum:
            return True
        raise QuorumDissolved(f"The quorum {namespace!r} was dissolved.")

    def party(
        self, namespace: str, quorum: int, liveness: QuorumLiveness | None = None
    ) -> Party:
        return PostgreSQLParty(self, namespace, quorum, liveness or quorum_liveness())


class Session:
    """A connection of its own to the database of a quorum, in autocommit."""

    def __init__(self, backend: PostgreSQLQuorum) -> None:
        self.backend = backend
        self.connection: BaseDatabaseWrapper = new_connection(backend.alias)
        self.table = self.connection.ops.quote_name(backend.table)
        try:
            self._ensure_table()
        except BaseException:
            self.close()
            raise

    def _ensure_table(self) -> None:
        """Create the table of the quorum, or check that syzygy created it."""
        exists, comment = self.fetch_one(
            "SELECT to_regclass(%s) IS NOT NULL, "
            "obj_description(to_regclass(%s), 'pg_class')",
            [self.table, self.table],
        )
        if exists and comment != _TABLE_COMMENT:
            # Never write into, nor delete rows from, a table of the project.
            raise ImproperlyConfigured(
                f"PostgreSQLQuorum's table is {self.backend.table!r}, a table of "
                f"the database {self.backend.alias!r} that syzygy didn't create; "
                f"name a table that doesn't exist, and syzygy creates it."
            )
        if exists:
            return
        with self.transaction():
            # CREATE TABLE IF NOT EXISTS can still fail when two sessions run
            # it at once.
            self.execute(
                "SELECT pg_advisory_xact_lock(%s)",
                [_lock_key("syzygy-quorum-table", self.backend.table)],
            )
            self.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                f"namespace text NOT NULL, "
                f"round integer NOT NULL, "
                f"joined integer NOT NULL, "
                f"polls_left integer NOT NULL DEFAULT 0, "
                f"state text, "
                f"applier text, "
                f"outcome text, "
                f"heartbeat timestamptz, "
                f"updated_at timestamptz NOT NULL DEFAULT now(), "
                f"PRIMARY KEY (namespace, round))"
            )
            self.execute(f"COMMENT ON TABLE {self.table} IS '{_TABLE_COMMENT}'")

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except Error as exc:
            raise self.backend.unavailable(exc) from exc

    def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        expected_error: Callable[[BaseException], bool] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return the rows it returns, if any.

        Errors are ``QuorumUnavailable``, except those ``expected_error``
        accepts, which are raised as they are.
        """
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except Error as exc:
            if expected_error is not None and expected_error(exc):
                raise
            raise self.backend.unavailable(exc) from exc

    def fetch_optional(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[Any, ...] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        row = self.fetch_optional(sql, params)
        if row is None:
            raise self.backend.unavailable(f"{self.backend.table} lost a row")
        return row

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.errors():
            self.connection.set_autocommit(False)
        try:
            yield
        except BaseException:
            with self.errors():
                self.connection.rollback()
            raise
        else:
            with self.errors():
                self.connection.commit()
        finally:
            with self.errors():
                self.connection.set_autocommit(True)

    def close(self) -> None:
        """Close the connection, which releases its session-level locks."""
        self.connection.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PostgreSQLParty(Party):
    """A party of ``migrate --quorum`` on a ``PostgreSQLQuorum``."""

    def __init__(
        self,
        backend: PostgreSQLQuorum,
        namespace: str,
        quorum: int,
        liveness: QuorumLiveness,
    ) -> None:
        super().__init__(namespace, quorum, liveness)
        self.backend = backend
        self.round = 0
        self._beat_session: Session | None = None
        self._session = backend.session()
        try:
            self._join()
        except BaseException:
            self._session.close()
            raise

    @property
    def _round_lock(self) -> int:
        return _lock_key(self.backend.table, self.namespace, self.round)

    def _join(self) -> None:
        """Join the open round of the namespace, opening one if there is none."""
        session, table = self._session, self._session.table
        with session.transaction():
            session.execute(
                "SELECT pg_advisory_xact_lock(%s)",
                [_lock_key(self.backend.table, self.namespace)],
            )
            session.execute(
                f"DELETE FROM {table} "
                f"WHERE updated_at < now() - make_interval(secs => %s)",
                [self.backend.timeout],
            )
            # FOR UPDATE: a party giving up on the round waits for this join.
            row = session.fetch_optional(
                f"SELECT round FROM {table} WHERE namespace = %s AND round > 0 "
                f"AND state IS NULL ORDER BY round DESC LIMIT 1 FOR UPDATE",
                [self.namespace],
            )
            if row is None:
                self.round, self.position = session.fetch_one(
                    f"INSERT INTO {table} (namespace, round, joined) "
                    f"SELECT %s, coalesce(max(round), 0) + 1, 1 FROM {table} "
                    f"WHERE namespace = %s RETURNING round, joined",
                    [self.namespace, self.namespace],
                )
            else:
                self.round, self.position = session.fetch_one(
                    f"UPDATE {table} SET joined = joined + 1, updated_at = now() "
                    f"WHERE namespace = %s AND round = %s RETURNING round, joined",
                    [self.namespace, row[0]],
                )
            if self.position == self.quorum:
                session.execute(
                    f"UPDATE {table} SET state = %s, applier = %s, "
                    f"heartbeat = now(), updated_at = now() "
                    f"WHERE namespace = %s AND round = %s",
                    [_GO, self.identity, self.namespace, self.round],
                )
                # Taken before the round is seen as complete, held until the
                # outcome is recorded or the session ends.
                session.execute("SELECT pg_advisory_lock(%s)", [self._round_lock])
                self.applies = True
                self.applier = self.identity

    def _round(self, columns: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        return self._session.fetch_one(
            f"SELECT {columns} FROM {self._session.table} "
            f"WHERE namespace = %s AND round = %s",
            [*params, self.namespace, self.round],
        )

    def wait_for_quorum(self, timeout: float) -> None:
        deadline = Deadline(timeout)
        backoff = Backoff()
        while True:
            state, applier, joined = self._round("state, applier, joined")
            if state == _GO:
                self.applier = applier
                return
            if deadline.expired:
                if state is not None or self._abandon():
                    raise QuorumTimeout(
                        f"Timed out after {deadline.seconds:g}s waiting for quorum "
                        f"{self.namespace!r}: {joined} of {self.quorum} parties had "
                        f"joined."
                    )
                continue  # The quorum was reached as this party gave up.
            if state is not None:
                # Another party gave up on the round: meet in the next one.
                self._join()
                continue
            backoff.wait(deadline.remaining)

    def _abandon(self) -> bool:
        """Give the round up unless it is complete; return whether it was open."""
        rows = self._session.execute(
            f"UPDATE {self._session.table} SET state = %s, updated_at = now() "
            f"WHERE namespace = %s AND round = %s AND state IS NULL RETURNING round",
            [_ABANDONED, self.namespace, self.round],
        )
        return bool(rows)

    def _wait_for_round_lock(self, timeout: float) -> bool:
        """Return whether the applying party released the round's lock in time."""
        session = self._session
        if timeout <= 0:
            (acquired,) = session.fetch_one(
                "SELECT pg_try_advisory_lock_shared(%s)", [self._round_lock]
            )
        else:
            try:
                with session.transaction():
                    session.execute(
                        "SELECT set_config('lock_timeout', %s, true)",
                        [f"{max(1, round(timeout * 1000))}ms"],
                    )
                    session.execute(
                        "SELECT pg_advisory_lock_shared(%s)",
                        [self._round_lock],
                        expected_error=is_lock_timeout,
                    )
            except OperationalError:
                return False
            acquired = True
        if acquired:
            session.execute("SELECT pg_advisory_unlock_shared(%s)", [self._round_lock])
        return bool(acquired)

    def wait_for_outcome(self, timeout: float) -> None:
        deadline = Deadline(timeout)
        liveness = self.liveness
        while True:
            released = self._wait_for_round_lock(
                min(deadline.remaining, liveness.heartbeat_interval)
            )
            outcome, silent = self._round(
                "outcome, now() - heartbeat > make_interval(secs => %s)",
                [liveness.timeout],
            )
            if outcome is not None:
                self._raise_for(Outcome(outcome))
                return
            if released or silent:
                cause = (
                    "its database session ended"
                    if released
                    else f"no heartbeat for {liveness.timeout:g}s"
                )
                if self._record_lost():
                    raise self._lost(cause)
                continue  # The applying party published as it was given up.
            if deadline.expired:
                raise self._outcome_timeout(deadline)

    def _record_lost(self) -> bool:
        rows = self._session.execute(
            f"UPDATE {self._session.table} SET outcome = %s, updated_at = now() "
            f"WHERE namespace = %s AND round = %s AND outcome IS NULL RETURNING round",
            [Outcome.LOST.value, self.namespace, self.round],
        )
        return bool(rows)

    def _beat(self) -> None:
        # The heartbeat runs on a thread of its own, with a connection of its own.
        if self._beat_session is None:
            self._beat_session = self.backend.session()
        self._beat_session.execute(
            f"UPDATE {self._beat_session.table} "
            f"SET heartbeat = now(), updated_at = now() "
            f"WHERE namespace = %s AND round = %s",
            [self.namespace, self.round],
        )

    def _stop_beating(self) -> None:
        if self._beat_session is not None:
            self._beat_session.close()
            self._beat_session = None

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(
            self._beat, self.liveness.heartbeat_interval, close=self._stop_beating
        )

    def _publish(self, outcome: Outcome) -> Outcome:
        table = self._session.table
        (recorded,) = self._session.fetch_one(
            f"WITH recorded AS (UPDATE {table} SET outcome = %s, updated_at = now() "
            f"WHERE namespace = %s AND round = %s AND outcome IS NULL "
            f"RETURNING outcome) "
            f"SELECT coalesce((SELECT outcome FROM recorded), outcome) FROM {table} "
            f"WHERE namespace = %s AND round = %s",
            [outcome.value, self.namespace, self.round, self.namespace, self.round],
        )
        # Only the applying party publishes, and it holds the lock until then.
        self._session.execute("SELECT pg_advisory_unlock(%s)", [self._round_lock])
        return Outcome(recorded)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._session.close()
