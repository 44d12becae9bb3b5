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
from typing import Any

from django.db import OperationalError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .conf import LockPolicy

__all__ = (
    "StatementLockWaitsExhausted",
    "bounded_lock_waits",
    "is_lock_timeout",
    "retry_delays",
    "runs_in_a_transaction",
    "set_local_statements",
)

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


class StatementLockWaitsExhausted(Exception):
    """A statement outside of any transaction timed out on every attempt."""

    def __init__(self, sql: str, policy: LockPolicy) -> None:
        self.sql = sql
        super().__init__(
            f"its statement {_abridged(sql)!r} could not take its locks within "
            f"SYZYGY_LOCK_TIMEOUT ({policy.lock_timeout} s) in "
            f"{policy.retries + 1} attempts"
        )


def _abridged(sql: str, length: int = 120) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= length else f"{sql[: length - 3]}..."


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
    on_retry: Callable[[str, float], None] = lambda sql, delay: None,
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
                for statement in statements:
                    execute(statement, None, False, context)
            return execute(sql, params, many, context)
        if not runs_in_a_transaction(sql):
            return execute(sql, params, many, context)
        delays = retry_delays(policy)
        while True:
            try:
                with transaction.atomic(using=connection.alias):
                    return set_local_first(execute, sql, params, many, context)
            except OperationalError as error:
                if not is_lock_timeout(error):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise StatementLockWaitsExhausted(sql, policy) from error
            on_retry(sql, delay)
            time.sleep(delay)

    if not statements:
        yield
        return
    with connection.execute_wrapper(set_local_first):
        yield


def _starts_transaction(connection: BaseDatabaseWrapper) -> bool:
    """Return whether the next statement on ``connection`` begins a transaction."""
    # psycopg and psycopg2 both begin it implicitly with the first statement
    # once Django has turned autocommit off; until then the server is idle.
    return bool(connection.connection.info.transaction_status == IDLE)
