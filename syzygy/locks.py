"""Bounded lock waits for migrations on PostgreSQL.

A DDL statement waiting for a lock makes every query behind it wait too, so
each migration sets ``lock_timeout`` (and, if configured,
``statement_timeout``) with ``SET LOCAL`` at the start of its transaction,
which is safe behind transaction-pooling proxies. A migration that times out
waiting rolls back whole and is retried whole after a jittered backoff.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from .conf import LockPolicy

__all__ = (
    "bounded_lock_waits",
    "is_lock_timeout",
    "retry_delays",
    "set_local_statements",
)

# PostgreSQL's SQLSTATE for lock_timeout (and NOWAIT) failures.
LOCK_NOT_AVAILABLE = "55P03"
# The transaction status of a psycopg or psycopg2 connection outside of any
# transaction.
IDLE = 0
# Backoff stops doubling at this multiple of the base delay.
MAX_BACKOFF_FACTOR = 16


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
    connection: BaseDatabaseWrapper, policy: LockPolicy
) -> Iterator[None]:
    """Bound the lock waits of the transactions opened in this block.

    Before the first statement of each transaction, the timeouts are set
    with ``SET LOCAL``: they end with the transaction.
    """
    statements = set_local_statements(policy)

    def set_local_first(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if connection.in_atomic_block and _starts_transaction(connection):
            for statement in statements:
                execute(statement, None, False, context)
        return execute(sql, params, many, context)

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
