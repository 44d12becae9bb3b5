from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import OperationalError, connection

from syzygy import batches
from syzygy.batches import run_in_batches, walk_in_batches

Scenario = Callable[[str], None]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def book_model(use_scenario: Scenario) -> Any:
    """Return a model of the lock_safe scenario's books, with 25 rows."""
    use_scenario("lock_safe")
    call_command("migrate", "alpha", "0006", verbosity=0)
    from django.db.migrations.executor import MigrationExecutor

    state = MigrationExecutor(connection).loader.project_state(
        ("alpha", "0006_book_ref")
    )
    Book = state.apps.get_model("alpha", "Book")
    Book.objects.bulk_create(Book(title=f"book {n}", pages=n) for n in range(25))
    return Book


def fill_pages(books: list[Any]) -> None:
    for book in books:
        book.pages += 1000
    type(books[0]).objects.bulk_update(books, ["pages"])


def test_rows_are_handled_in_batches_by_increasing_primary_key(book_model: Any) -> None:
    seen: list[list[int]] = []

    def record(books: list[Any]) -> None:
        seen.append([book.pk for book in books])

    stream = io.StringIO()
    done = run_in_batches(
        book_model.objects.all(), record, batch_size=10, stream=stream
    )
    assert done == 25
    assert [len(batch) for batch in seen] == [10, 10, 5]
    flat = [pk for batch in seen for pk in batch]
    assert flat == sorted(flat)
    # Without a terminal, a line per tenth of the rows.
    lines = stream.getvalue().splitlines()[1:]
    assert lines[0].startswith(
        "  Batches: [############------------------] 10/25 rows (40%)"
    )
    assert lines[-1].startswith(
        "  Batches: [##############################] 25/25 rows (100%)"
    )


def test_an_interrupted_run_resumes_with_the_rows_left(book_model: Any) -> None:
    calls = 0

    def fail_second_batch(books: list[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("interrupted")
        fill_pages(books)

    left = book_model.objects.filter(pages__lt=1000)
    with pytest.raises(RuntimeError):
        run_in_batches(left, fail_second_batch, batch_size=10, stream=io.StringIO())
    # The first batch stays done; the second rolled back.
    assert left.count() == 15
    assert run_in_batches(left, fill_pages, batch_size=10, stream=io.StringIO()) == 15
    assert left.count() == 0


def test_progress_is_a_bar_on_a_terminal(book_model: Any) -> None:
    terminal = Terminal()
    run_in_batches(
        book_model.objects.all(),
        fill_pages,
        batch_size=20,
        pause=0.01,
        label="Pages",
        stream=terminal,
    )
    output = terminal.getvalue()
    assert re.fullmatch(
        r"\r  Pages: \[#{24}-{6}\] 20/25 rows \(80%\) in \d+\.\d s"
        r"\r  Pages: \[#{30}\] 25/25 rows \(100%\) in \d+\.\d s"
        r"\r  Pages: \[#{30}\] 25/25 rows \(100%\) in \d+\.\d s\n",
        output,
    ), output


def test_no_rows_still_reports_once(book_model: Any) -> None:
    stream = io.StringIO()
    none = book_model.objects.none()
    assert run_in_batches(none, fill_pages, stream=stream) == 0
    assert stream.getvalue().startswith(
        "\n  Batches: [------------------------------] 0/0"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size is 0; it must be an integer >= 1."),
        ({"batch_size": True}, "batch_size is True; it must be an integer >= 1."),
        ({"pause": -1}, "pause is -1; it must be a number of seconds >= 0."),
        ({"pause": float("nan")}, "pause is nan; it must be a number of seconds >= 0."),
        ({"pause": "1"}, "pause is '1'; it must be a number of seconds >= 0."),
    ],
)
def test_bad_arguments_are_refused(options: dict[str, Any], message: str) -> None:
    Model = apps.get_model("auth", "User")
    with pytest.raises(ValueError, match=r"must be") as raised:
        run_in_batches(Model.objects.all(), fill_pages, **options)
    assert str(raised.value) == message


def test_other_errors_of_a_batch_are_not_retried(book_model: Any) -> None:
    attempts = 0

    def fail(books: list[Any]) -> None:
        nonlocal attempts
        attempts += 1
        raise OperationalError("disk full")

    with pytest.raises(OperationalError, match="disk full"):
        run_in_batches(book_model.objects.all(), fail, stream=io.StringIO())
    assert attempts == 1


def sizes_of_a_walk(db: None, seconds_per_batch: float, batches: int = 5) -> list[int]:
    """Return the sizes ``walk_in_batches`` asks for, adapting, when each
    batch takes ``seconds_per_batch``."""
    sizes: list[int] = []

    def batch(after: Any, size: int) -> tuple[Any, int]:
        sizes.append(size)
        time.sleep(seconds_per_batch)
        handled = size if len(sizes) < batches else 0
        return len(sizes), handled

    walk_in_batches(batch, using="default", total=0, stream=io.StringIO())
    return sizes[:-1]


def test_batches_grow_while_they_are_quick(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any batch is quick next to a minute: twice as many rows each time.
    monkeypatch.setattr(batches, "BATCH_SECONDS", 60.0)
    assert sizes_of_a_walk(db, 0.0) == [1000, 2000, 4000, 8000]


def test_batches_shrink_when_they_are_slow(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "BATCH_SECONDS", 0.005)
    # Each takes at least 0.02 s, four times too long: half as many rows.
    assert sizes_of_a_walk(db, 0.02) == [1000, 500, 250, 125]


def test_batch_sizes_stay_within_bounds() -> None:
    assert batches._next_size(60_000, 0.001) == batches.MAX_BATCH_SIZE
    assert batches._next_size(12, 10.0) == batches.MIN_BATCH_SIZE
    assert batches._next_size(1000, 0.04) == 500
    assert batches._next_size(1000, 0.016) == 1250


def test_a_walk_with_a_given_size_keeps_it(db: None) -> None:
    sizes: list[int] = []

    def batch(after: Any, size: int) -> tuple[Any, int]:
        sizes.append(size)
        return after, size if len(sizes) < 4 else 0

    done = walk_in_batches(
        batch, using="default", total=30, batch_size=10, stream=io.StringIO()
    )
    assert (done, sizes) == (30, [10, 10, 10, 10])
