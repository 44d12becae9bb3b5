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

__all__ = ("DEFAULT_BATCH_SIZE", "Stream", "run_in_batches")

DEFAULT_BATCH_SIZE = 1000
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
    if type(batch_size) is not int or batch_size < 1:
        raise ValueError(f"batch_size is {batch_size!r}; it must be an integer >= 1.")
    if type(pause) not in (int, float) or not 0 <= pause < math.inf:
        raise ValueError(f"pause is {pause!r}; it must be a number of seconds >= 0.")
    progress = _Progress(label, queryset.count(), stream or sys.stdout)
    ordered = queryset.order_by("pk")
    done = 0
    while True:
        batch = _run_batch(
            (ordered.select_for_update() if lock_rows else ordered)[:batch_size],
            function,
            progress,
        )
        if not batch:
            break
        done += len(batch)
        ordered = queryset.order_by("pk").filter(pk__gt=batch[-1].pk)
        progress.show(done)
        if pause:
            time.sleep(pause)
    progress.finish(done)
    return done


def _run_batch(
    rows: models.QuerySet[Any],
    function: Callable[[list[Any]], object],
    progress: _Progress,
) -> list[Any]:
    """Handle one batch in a transaction; run it again if it times out
    waiting for a lock (``SYZYGY_LOCK_TIMEOUT``, on PostgreSQL in ``migrate``)."""

    def attempt() -> list[Any]:
        with transaction.atomic(using=rows.db):
            batch = list(rows)
            if batch:
                function(batch)
            return batch

    def on_retry(delay: float) -> None:
        blockers = recent_blockers(connections[rows.db])
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
