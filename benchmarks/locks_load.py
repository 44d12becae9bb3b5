"""The application side of the lock benchmark: a writer, a reader and a
transaction held open on the table.

The writer and the reader are processes of their own, each with its own
connection in autocommit. They loop over their statements until told to
stop and record when every statement started and ended, on
``time.monotonic()``: one clock for every process of the machine, so their
samples compare with the times the benchmark takes around ``migrate``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Any

import psycopg2

TABLE = "bench_item"
CATEGORIES = 100
# A statement blocked longer than this is cancelled (and counted as failed),
# so that nothing the benchmark starts can hang for ever.
STATEMENT_TIMEOUT_MS = 120_000
READY_TIMEOUT = 60.0
STOP_TIMEOUT = STATEMENT_TIMEOUT_MS / 1000 + 30.0

# The columns the running (old) code knows: those of the initial migration.
INSERT = f"INSERT INTO {TABLE} (name, code, value, category_id) VALUES (%s, %s, %s, %s)"
UPDATE = f"UPDATE {TABLE} SET value = %s WHERE id = %s"
SELECT = f"SELECT id, name, code, value, category_id FROM {TABLE} WHERE id = %s"


@dataclass
class Samples:
    """The statements one load process ran: when each started and ended."""

    role: str
    starts: array[float]
    ends: array[float]
    failed_ends: array[float] = field(default_factory=lambda: array("d"))
    first_failure: str = ""

    def longest(self, window_start: float, window_end: float) -> float | None:
        """Return the duration of the longest statement that overlapped the
        window, or ``None`` if none did."""
        return max(
            (
                end - start
                for start, end in zip(self.starts, self.ends, strict=True)
                if start < window_end and end > window_start
            ),
            default=None,
        )


def statements(
    role: str,
    rows: int,
    rng: random.Random,
    new_insert: str | None,
    new_update: str | None = None,
) -> Iterator[tuple[str, Any]]:
    """Yield the statements of ``role`` for ever: a writer inserts a row and
    updates a random one, the reader selects a random row. The new code's
    writer inserts with ``new_insert``, if the change gives one: the
    statement of the old code with the new column (one more parameter, a
    random number), or with a column renamed; and it updates with
    ``new_update``, if the change gives one (a table renamed)."""
    prefix = f"{role}-{os.getpid()}-"
    insert = new_insert if role == "new-writer" and new_insert else INSERT
    update = new_update if role == "new-writer" and new_update else UPDATE
    for number in range(1, 2**62):
        if role in ("writer", "new-writer"):
            values = (
                f"new item {number}",
                f"{prefix}{number}",
                rng.randrange(1000),
                rng.randint(1, CATEGORIES),
            )
            if insert.count("%s") > len(values):
                values += (rng.randrange(10**9),)
            yield insert, values
            yield update, (rng.randrange(1000), rng.randint(1, rows))
        else:
            yield SELECT, (rng.randint(1, rows),)


def run(
    role: str,
    connection_parameters: dict[str, str],
    rows: int,
    pause: float,
    new_insert: str | None,
    new_select: str | None,
    new_update: str | None,
    ready: Event,
    new_code: Event,
    old_code_gone: Event,
    stop: Event,
    results: Connection,
) -> None:
    """Run the statements of ``role`` until ``stop`` is set, then send the
    samples through ``results``. The new code's writer starts once
    ``new_code`` is set; the old code's writer stops once ``old_code_gone``
    is, and the reader then selects with ``new_select``, if the change gives
    one."""
    connection = psycopg2.connect(
        **connection_parameters, options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    )
    connection.autocommit = True
    cursor = connection.cursor()
    samples = Samples(role, array("d"), array("d"))
    rng = random.Random()
    ready.set()
    if role == "new-writer":
        while not (new_code.wait(0.05) or stop.is_set()):
            pass
    for sql, parameters in statements(role, rows, rng, new_insert, new_update):
        if stop.is_set() or (role == "writer" and old_code_gone.is_set()):
            break
        if sql is SELECT and new_select and old_code_gone.is_set():
            sql = new_select
        start = time.monotonic()
        try:
            cursor.execute(sql, parameters)
            if cursor.description is not None:
                cursor.fetchall()
        except psycopg2.Error as error:
            samples.failed_ends.append(time.monotonic())
            if not samples.first_failure:
                samples.first_failure = str(error).strip().splitlines()[0]
        end = time.monotonic()
        samples.starts.append(start)
        samples.ends.append(end)
        if connection.closed:
            break
        if pause:
            time.sleep(pause)
    results.send(samples)
    results.close()
    connection.close()


class Load:
    """The old code's writer and a reader running against the benchmark
    table, then, once the new code is rolled out, the new code's writer
    instead of the old one."""

    roles = ("writer", "new-writer", "reader")

    def __init__(
        self,
        connection_parameters: dict[str, str],
        rows: int,
        pause: float,
        new_insert: str | None = None,
        new_select: str | None = None,
        new_update: str | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._new_code = context.Event()
        self._old_code_gone = context.Event()
        self._processes: list[tuple[multiprocessing.process.BaseProcess, Connection]]
        self._processes = []
        self._ready: list[Event] = []
        for role in self.roles:
            receiver, sender = context.Pipe(duplex=False)
            ready = context.Event()
            process = context.Process(
                target=run,
                args=(
                    role,
                    connection_parameters,
                    rows,
                    pause,
                    new_insert,
                    new_select,
                    new_update,
                    ready,
                    self._new_code,
                    self._old_code_gone,
                    self._stop,
                    sender,
                ),
                name=f"locks-benchmark-{role}",
                daemon=True,
            )
            self._processes.append((process, receiver))
            self._ready.append(ready)

    def __enter__(self) -> Load:
        for process, _ in self._processes:
            process.start()
        for ready, (process, _) in zip(self._ready, self._processes, strict=True):
            if not ready.wait(READY_TIMEOUT):
                raise RuntimeError(f"{process.name} did not connect in time")
        return self

    def roll_out(self, overlap: float) -> None:
        """Start the new code's writer; stop the old one ``overlap`` seconds
        later, as a rolling deploy replaces one process after another."""
        self._new_code.set()
        time.sleep(overlap)
        self._old_code_gone.set()

    def stop(self) -> dict[str, Samples]:
        """Stop the processes once their statement in flight is done and
        return their samples by role."""
        self._stop.set()
        samples = {}
        for process, receiver in self._processes:
            if not receiver.poll(STOP_TIMEOUT):
                raise RuntimeError(f"{process.name} did not stop in time")
            received: Samples = receiver.recv()
            samples[received.role] = received
            process.join(STOP_TIMEOUT)
        return samples

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        for process, receiver in self._processes:
            process.join(STOP_TIMEOUT if exc is None else 1.0)
            if process.is_alive():
                process.terminate()
                process.join()
            receiver.close()


class HeldTransaction:
    """A transaction that holds an ACCESS SHARE lock on the table.

    It begins with a ``SELECT`` on entering and commits ``seconds`` later,
    or as soon as it is released, whichever comes first.
    """

    def __init__(self, connection_parameters: dict[str, str], seconds: float) -> None:
        self.seconds = seconds
        self._connection_parameters = connection_parameters
        self._released = threading.Event()
        self.began = 0.0
        self.committed = 0.0

    def __enter__(self) -> HeldTransaction:
        self._connection = psycopg2.connect(**self._connection_parameters)
        with self._connection.cursor() as cursor:
            # psycopg2 begins the transaction with the first statement.
            cursor.execute(f"SELECT id FROM {TABLE} LIMIT 1")
            cursor.fetchall()
        self.began = time.monotonic()
        self._thread = threading.Thread(target=self._commit_in_time, daemon=True)
        self._thread.start()
        return self

    def _commit_in_time(self) -> None:
        self._released.wait(self.seconds)
        self._connection.commit()
        self.committed = time.monotonic()

    def release(self) -> None:
        """Commit now if the transaction is still open."""
        self._released.set()
        self._thread.join()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
        self._connection.close()
