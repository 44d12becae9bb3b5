"""Change many rows without holding locks for long: in batches, each a short
transaction of its own.

Use it in a migration with ``atomic = False`` (in an atomic one, every batch
would belong to the migration's single transaction)::

    from syzygy.batches import run_in_batches

    def fill_slugs(apps, schema_editor):
        Article = apps.get_model("blog", "Article")

        def fill(articles):
            for article in articles:
                article.slug = slugify(article.title)
            Article.objects.bulk_update(articles, ["slug"])

        run_in_batches(Article.objects.filter(slug=None), fill, batch_size=500)
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from django.db import connections, models, transaction

from . import conf
from .locks import retrying_lock_timeouts
from .monitor import describe_sessions, recent_blockers

__all__ = ("DEFAULT_BATCH_SIZE", "Stream", "run_in_batches", "walk_in_batches")

DEFAULT_BATCH_SIZE = 1000
# Batches of a size of their own: the first, the bounds, and how long each
# transaction should last.
FIRST_BATCH_SIZE = 1000
MIN_BATCH_SIZE = 10
MAX_BATCH_SIZE = 100_000
BATCH_SECONDS = 0.02
# Without a terminal, a progress line for every tenth of the rows.
_PROGRESS_STEPS = 10


class Stream(Protocol):
    """Where progress is written: a text file, or ``migrate``'s output."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def run_in_batches(
    queryset: models.QuerySet[Any],
    function: Callable[[list[Any]], object],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pause: float = 0.0,
    label: str = "Batches",
    stream: Stream | None = None,
    lock_rows: bool = True,
) -> int:
    """Call ``function`` with the rows of ``queryset``, ``batch_size`` at a time.

    Rows go by increasing primary key; each batch is handled in a transaction
    of its own, its rows locked (``SELECT ... FOR UPDATE``) unless
    ``lock_rows`` is false, then ``pause`` seconds pass. Progress is written
    to ``stream`` (standard output by default). A run that is interrupted
    can start again: make ``queryset`` leave out the rows already done
    (``filter(slug=None)``) and it resumes.
    Return the number of rows handled.
    """
    _check_batch_size(batch_size)
    _check_pause(pause)
    ordered = queryset.order_by("pk")

    def batch(after: Any, size: int) -> tuple[Any, int]:
        rows = ordered if after is None else ordered.filter(pk__gt=after)
        found = list((rows.select_for_update() if lock_rows else rows)[:size])
        if found:
            function(found)
        return (found[-1].pk if found else None), len(found)

    return walk_in_batches(
        batch,
        using=queryset.db,
        total=queryset.count(),
        batch_size=batch_size,
        pause=pause,
        label=label,
        stream=stream,
    )


def walk_in_batches(
    batch: Callable[[Any, int], tuple[Any, int]],
    *,
    using: str,
    total: int,
    batch_size: int | None = None,
    pause: float = 0.0,
    label: str = "Batches",
    stream: Stream | None = None,
) -> int:
    """Walk a table by key, calling ``batch(after, size)`` until it finds no row.

    ``batch`` handles the ``size`` rows whose key follows ``after`` (all
    rows first, ``after`` being ``None``) and returns the key of the last
    one, and how many there were. Each call is a transaction of its own on
    the database ``using``, run again if it times out waiting for a lock
    (``SYZYGY_LOCK_TIMEOUT``, on PostgreSQL in ``migrate``); then ``pause``
    seconds pass. With ``batch_size`` ``None``, batches grow or shrink so
    that each transaction lasts about ``BATCH_SECONDS``, which bounds how
    long the application waits for a row a batch has locked. Progress over
    ``total`` rows is written to ``stream``.
    Return the number of rows handled.
    """
    if batch_size is not None:
        _check_batch_size(batch_size)
    _check_pause(pause)
    progress = _Progress(label, total, stream or sys.stdout)
    size = batch_size or FIRST_BATCH_SIZE
    after: Any = None
    done = 0
    while True:
        last, handled, seconds = _run_batch(batch, after, size, using, progress)
        if not handled:
            break
        done += handled
        after = last
        progress.show(done)
        if batch_size is None and handled == size:
            size = _next_size(size, seconds)
        if pause:
            time.sleep(pause)
    progress.finish(done)
    return done


def _check_batch_size(batch_size: int) -> None:
    if type(batch_size) is not int or batch_size < 1:
        raise ValueError(f"batch_size is {batch_size!r}; it must be an integer >= 1.")


def _check_pause(pause: float) -> None:
    if type(pause) not in (int, float) or not 0 <= pause < math.inf:
        raise ValueError(f"pause is {pause!r}; it must be a number of seconds >= 0.")


def _next_size(size: int, seconds: float) -> int:
    """Return the size of the next batch, after one of ``size`` rows took
    ``seconds``: what fits in ``BATCH_SECONDS``, at most twice or half as
    many rows."""
    fitting = int(size * BATCH_SECONDS / max(seconds, 1e-6))
    return max(MIN_BATCH_SIZE, min(fitting, 2 * size, MAX_BATCH_SIZE), size // 2)


def _run_batch(
    batch: Callable[[Any, int], tuple[Any, int]],
    after: Any,
    size: int,
    using: str,
    progress: _Progress,
) -> tuple[Any, int, float]:
    """Run one batch in a transaction, again if it times out waiting for a
    lock; return what it returns, and how long its transaction lasted."""

    def attempt() -> tuple[Any, int, float]:
        started = time.monotonic()
        with transaction.atomic(using=using):
            last, handled = batch(after, size)
        return last, handled, time.monotonic() - started

    def on_retry(delay: float) -> None:
        blockers = recent_blockers(connections[using])
        cause = f": blocked by {describe_sessions(blockers)}" if blockers else ""
        progress.note(
            f"a batch timed out waiting for a lock{cause}; retrying in {delay:.2f} s"
        )

    return retrying_lock_timeouts(
        attempt,
        conf.lock_policy(),
        what=f"a batch ({progress.label}) could not take its locks",
        on_retry=on_retry,
    )


class _Progress:
    """A progress bar on a terminal, a few lines elsewhere."""

    def __init__(self, label: str, total: int, stream: Stream) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.terminal = stream.isatty()
        self.shown_step = 0
        self.started = time.monotonic()

    def show(self, done: int) -> None:
        if self.terminal:
            self.stream.write(f"\r{self._line(done)}")
            self.stream.flush()
            return
        step = done * _PROGRESS_STEPS // max(self.total, 1)
        if step > self.shown_step:
            self.shown_step = step
            self.stream.write(f"\n{self._line(done)}")
            self.stream.flush()

    def note(self, message: str) -> None:
        # On a terminal, the bar goes on below the note.
        ending = "\n" if self.terminal else ""
        self.stream.write(f"\n  {self.label}: {message}{ending}")
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.terminal:
            self.stream.write(f"\r{self._line(done)}\n")
        elif self.shown_step < _PROGRESS_STEPS:
            self.stream.write(f"\n{self._line(done)}\n")
        else:
            self.stream.write("\n")
        self.stream.flush()

    def _line(self, done: int) -> str:
        width = 30
        total = max(self.total, done, 1)
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        elapsed = time.monotonic() - self.started
        return (
            f"  {self.label}: [{bar}] {done:,}/{self.total:,} rows "
            f"({100 * done // total}%) in {elapsed:.1f} s"
        )
