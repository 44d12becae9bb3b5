"""Bounded lock waits for migrations on PostgreSQL.

A DDL statement waiting for a lock makes every query behind it wait too, so
each transaction of a migration sets ``lock_timeout`` (and, if configured,
``statement_timeout``) with ``SET LOCAL`` before its first statement, which
is safe behind transaction-pooling proxies. An atomic migration that times
out waiting rolls back whole and is retried whole after a jittered backoff;
in a non-atomic migration each statement outside of a transaction runs in a
transaction of its own and is retried alone.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import OperationalError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .conf import LockPolicy

__all__ = (
    "LockRetriesExhausted",
    "abridged",
    "bounded_lock_waits",
    "is_lock_timeout",
    "retry_delays",
    "retrying_lock_timeouts",
    "runs_in_a_transaction",
    "set_local_statements",
)

T = TypeVar("T")

# PostgreSQL's SQLSTATE for lock_timeout (and NOWAIT) failures.
LOCK_NOT_AVAILABLE = "55P03"
# The transaction status of a psycopg or psycopg2 connection outside of any
# transaction.
IDLE = 0
# Backoff stops doubling at this multiple of the base delay.
MAX_BACKOFF_FACTOR = 16
# Statements PostgreSQL refuses to run inside a transaction block. They take
# no lock that blocks reads and writes, so they run without the bounds.
_OUTSIDE_TRANSACTIONS = re.compile(r"\bCONCURRENTLY\b|^\s*VACUUM\b", re.IGNORECASE)


class LockRetriesExhausted(Exception):
    """Something timed out waiting for locks on every attempt.

    The message says what, as a clause: "its locks could not be taken".
    """

    def __init__(self, what: str, policy: LockPolicy) -> None:
        super().__init__(
            f"{what} within SYZYGY_LOCK_TIMEOUT ({policy.lock_timeout} s) in "
            f"{policy.retries + 1} attempts"
        )


def retrying_lock_timeouts(
    attempt: Callable[[], T],
    policy: LockPolicy,
    *,
    what: str,
    on_retry: Callable[[float], None],
) -> T:
    """Return what ``attempt`` returns, calling it again after a jittered
    backoff each time it fails on a lock timeout (having failed, it must
    have changed nothing); ``on_retry`` is told the pause first.

    Raise ``LockRetriesExhausted`` (``what`` says what timed out) when the
    retries of ``policy`` run out.
    """
    delays = retry_delays(policy)
    while True:
        try:
            return attempt()
        except OperationalError as error:
            if not is_lock_timeout(error):
                raise
            delay = next(delays, None)
            if delay is None:
                raise LockRetriesExhausted(what, policy) from error
        on_retry(delay)
        time.sleep(delay)


def abridged(text: str, length: int = 120) -> str:
    """Return ``text`` on one line, cut to ``length`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= length else f"{text[: length - 3]}..."


def runs_in_a_transaction(sql: str) -> bool:
    """Return whether PostgreSQL accepts ``sql`` inside a transaction block."""
    return not _OUTSIDE_TRANSACTIONS.search(sql)


def is_lock_timeout(error: BaseException) -> bool:
    """Return whether ``error`` is PostgreSQL giving up waiting for a lock."""
    cause = error.__cause__
    return isinstance(error, OperationalError) and (
        getattr(cause, "pgcode", None) == LOCK_NOT_AVAILABLE
        or getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE
    )


def retry_delays(
    policy: LockPolicy, rng: random.Random | None = None
) -> Iterator[float]:
    """Yield the pause before each retry: exponential backoff, each drawn at
    random between half the base delay and the backoff's ceiling."""
    rng = rng or random.Random()
    for attempt in range(policy.retries):
        ceiling = policy.retry_delay * min(2**attempt, MAX_BACKOFF_FACTOR)
        yield rng.uniform(policy.retry_delay / 2, ceiling)


def set_local_statements(policy: LockPolicy) -> list[str]:
    """Return the statements that bound a transaction's waits per ``policy``."""
    timeouts = {
        "lock_timeout": policy.lock_timeout,
        "statement_timeout": policy.statement_timeout,
    }
    # Whole milliseconds, rounded up: PostgreSQL reads a bare number as
    # milliseconds, and 0 would mean no timeout at all.
    return [
        f"SET LOCAL {name} = {math.ceil(seconds * 1000)}"
        for name, seconds in timeouts.items()
        if seconds is not None
    ]


@contextmanager
def bounded_lock_waits(
    connection: BaseDatabaseWrapper,
    policy: LockPolicy,
    on_retry: Callable[[float], None] = lambda delay: None,
) -> Iterator[None]:
    """Bound the lock waits of the statements run in this block.

    Before the first statement of each transaction, the timeouts are set
    with ``SET LOCAL``: they end with the transaction. A statement run
    outside of any transaction gets a transaction of its own, and is run
    again after a pause each time it times out waiting for a lock (having
    failed, it changed nothing), ``on_retry`` being told first.
    """
    statements = set_local_statements(policy)

    def set_local_first(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if connection.in_atomic_block:
            if _starts_transaction(connection):
                _set_local(connection, statements)
            return execute(sql, params, many, context)
        if not runs_in_a_transaction(sql):
            return execute(sql, params, many, context)

        def in_a_transaction() -> Any:
            with transaction.atomic(using=connection.alias):
                return set_local_first(execute, sql, params, many, context)

        return retrying_lock_timeouts(
            in_a_transaction,
            policy,
            what=f"its statement {abridged(sql)!r} could not take its locks",
            on_retry=on_retry,
        )

    if not statements:
        yield
        return
    with connection.execute_wrapper(set_local_first):
        yield


def _set_local(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    """Run ``statements`` on a cursor of their own.

    Not on the cursor of the statement that begins the transaction: that one
    may be a server-side cursor, which runs a single ``DECLARE ... CURSOR FOR``
    query; nor through Django's cursor, which would come back here.
    """
    with connection.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _starts_transaction(connection: BaseDatabaseWrapper) -> bool:
    """Return whether the next statement on ``connection`` begins a transaction."""
    # psycopg and psycopg2 both begin it implicitly with the first statement
    # once Django has turned autocommit off; until then the server is idle.
    return bool(connection.connection.info.transaction_status == IDLE)
