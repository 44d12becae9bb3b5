"""Columns renamed in an expand and a contract step: on a real PostgreSQL,
code deployed before the rename and the new code work side by side, each
seeing the other's writes; the schema ends as ``RenameField`` leaves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, models
from django.db.migrations.loader import MigrationLoader

from syzygy.operations import ContractRenameField, ExpandRenameField

Scenario = Callable[[str], None]
Model = Any

REPOSITORY = Path(__file__).resolve().parent.parent
TABLE = "alpha_book"
RENAMES = {
    "title": "headline",
    "pages": "page_count",
    "code": "isbn",
    "publisher": "imprint",
}

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="renames expand and contract on PostgreSQL (SYZYGY_TEST_DATABASE="
    "postgresql)",
)


def fetch(sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def catalogue() -> dict[str, Any]:
    """Return the columns, indexes, constraints and triggers of the table,
    in forms that don't depend on the order of the columns."""
    columns = {
        name: (kind, not_null, default)
        for name, kind, not_null, default in fetch(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
            "pg_get_expr(adbin, adrelid) FROM pg_attribute "
            "LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [TABLE],
        )
    }
    indexes = dict(
        fetch(
            "SELECT relname, pg_get_indexdef(indexrelid) FROM pg_index "
            "JOIN pg_class ON pg_class.oid = indexrelid WHERE indrelid = %s::regclass",
            [TABLE],
        )
    )
    constraints = dict(
        fetch(
            "SELECT conname, pg_get_constraintdef(oid) || ' ' || convalidated "
            "FROM pg_constraint WHERE conrelid = %s::regclass",
            [TABLE],
        )
    )
    triggers = fetch(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
        "AND NOT tgisinternal",
        [TABLE],
    )
    functions = fetch("SELECT proname FROM pg_proc WHERE proname LIKE %s", ["%sync"])
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "triggers": triggers,
        "functions": functions,
    }


def models_at(migration: str) -> tuple[Model, Model]:
    """Return the Book and Publisher models of the code that ``migration``
    leaves deployed."""
    loader = MigrationLoader(connection)
    apps = loader.project_state(("alpha", migration)).apps
    return apps.get_model("alpha", "Book"), apps.get_model("alpha", "Publisher")


def migrate(target: str, **options: Any) -> str:
    output = StringIO()
    call_command("migrate", "alpha", target, stdout=output, **options)
    return output.getvalue()


@pytest.fixture
def books(use_scenario: Scenario) -> None:
    """The renames scenario at 0001, with books."""
    use_scenario("renames")
    migrate("0001")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_publisher (id) VALUES (1), (2)")
        cursor.execute(
            "INSERT INTO alpha_book (title, pages, code, publisher_id) "
            "SELECT 'book ' || n, n, 'code ' || n, 1 + n % 2 "
            "FROM generate_series(1, 500) n"
        )


@postgresql_only
def test_expand_and_contract_leave_the_schema_stock_rename_field_leaves(
    use_scenario: Scenario,
) -> None:
    use_scenario("renames_stock")
    migrate("0002")
    stock = catalogue()
    migrate("zero")
    use_scenario("renames")
    migrate("0002")
    expanded = catalogue()
    migrate("0003")

    assert catalogue() == stock
    # Both columns, each with its own indexes and constraints, and one
    # trigger a column.
    assert {*RENAMES, *RENAMES.values()} <= {
        column.removesuffix("_id") for column in expanded["columns"]
    }
    assert len(expanded["triggers"]) == 4


@postgresql_only
def test_old_and_new_code_see_each_others_writes_between_the_steps(
    books: None,
) -> None:
    migrate("0002")
    OldBook, OldPublisher = models_at("0001_initial")
    NewBook, NewPublisher = models_at("0002_rename_expand")
    first, second = OldPublisher.objects.order_by("pk")

    # Rows from before the expand step.
    book = NewBook.objects.get(isbn="code 7")
    assert (book.headline, book.page_count, book.imprint_id) == ("book 7", 7, 2)

    # Inserts, either way; a database default filled on either side.
    old = OldBook.objects.create(title="old", code="o-1", publisher=first)
    new = NewBook.objects.create(headline="new", isbn="n-1", page_count=9)
    seen = NewBook.objects.get(pk=old.pk)
    assert (seen.headline, seen.page_count, seen.isbn, seen.imprint_id) == (
        "old",
        1,
        "o-1",
        first.pk,
    )
    seen = OldBook.objects.get(pk=new.pk)
    assert (seen.title, seen.pages, seen.code, seen.publisher_id) == (
        "new",
        9,
        "n-1",
        None,
    )

    # Updates, either way, of a row or many.
    OldBook.objects.filter(pk=new.pk).update(title="renamed by old", pages=3)
    NewBook.objects.filter(pk=old.pk).update(headline="renamed by new", imprint=second)
    seen = NewBook.objects.get(pk=new.pk)
    assert (seen.headline, seen.page_count) == ("renamed by old", 3)
    seen = OldBook.objects.get(pk=old.pk)
    assert (seen.title, seen.publisher_id) == ("renamed by new", second.pk)
    saved = NewBook.objects.get(pk=old.pk)
    saved.isbn = None
    saved.save()
    assert OldBook.objects.get(pk=old.pk).code is None

    # Filters and constraints: a unique value taken by one side is taken
    # for the other.
    assert OldBook.objects.filter(title__startswith="renamed").count() == 2
    with pytest.raises(Exception, match="unique|duplicate"):
        OldBook.objects.create(title="copy", code="n-1")



@postgresql_only
def test_reverting_both_steps_restores_the_schema_and_the_values(books: None) -> None:
    before = catalogue()
    migrate("0003")
    NewBook, _ = models_at("0003_rename_contract")
    NewBook.objects.filter(pk=3).update(headline="changed", page_count=33)

    migrate("0002")
    OldBook, _ = models_at("0001_initial")
    NewBook.objects.create(headline="during the revert", page_count=2)
    migrate("0001")

    assert catalogue() == before
    book = OldBook.objects.get(pk=3)
    assert (book.title, book.pages, book.code) == ("changed", 33, "code 3")
    assert OldBook.objects.get(title="during the revert").pages == 2
    assert OldBook.objects.count() == 501


@postgresql_only
def test_the_expand_step_alone_reverts(books: None) -> None:
    before = catalogue()
    migrate("0002")
    migrate("0001")
    assert catalogue() == before


class Traffic(threading.Thread):
    """What a deployed release does: on a connection of its own, insert
    books, update each once, and read the other release's books."""

    def __init__(self, name: str, model: Model, fields: dict[str, str]) -> None:
        super().__init__(name=name, daemon=True)
        self.model = model
        self.fields = fields
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.written: dict[int, tuple[str, int]] = {}
        self.other: Traffic | None = None
        self.reads = 0

    def values(self, title: str, pages: int) -> dict[str, Any]:
        return {self.fields["title"]: title, self.fields["pages"]: pages}

    def run(self) -> None:
        try:
            number = 0
            while not self.stopping.is_set():
                number += 1
                try:
                    self.step(number)
                except Exception as error:  # noqa: BLE001 - reported by the test
                    self.errors.append(f"{self.name}: {error!r}")
                time.sleep(0.002)
        finally:
            connections.close_all()

    def step(self, number: int) -> None:
        title = f"{self.name} {number}"
        book = self.model.objects.create(**self.values(title, number))
        self.written[book.pk] = (title, number)
        if number % 2 == 0:
            # Update an earlier book of its own, once.
            pk = list(self.written)[number // 2 - 1]
            updated = (f"{self.written[pk][0]} updated", 100_000 + number)
            self.model.objects.filter(pk=pk).update(**self.values(*updated))
            self.written[pk] = updated
        if self.other is not None and self.other.written:
            pk, (title, pages) = list(self.other.written.items())[-1]
            row = self.model.objects.values(*self.fields.values()).get(pk=pk)
            seen = (row[self.fields["title"]], row[self.fields["pages"]])
            # Written, or written then updated.
            if seen[0] not in (title, title.removesuffix(" updated")):
                self.errors.append(f"{self.name} read {seen} for {(title, pages)}")
            self.reads += 1


def stop(traffic: Traffic) -> None:
    traffic.stopping.set()
    traffic.join()


@postgresql_only
def test_a_rolling_deploy_of_a_rename_never_fails_a_query(use_scenario: Scenario) -> None:
    use_scenario("renames")
    migrate("0001")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_book (title, pages) "
            "SELECT 'book ' || n, n FROM generate_series(1, 20000) n"
        )
    OldBook, _ = models_at("0001_initial")
    NewBook, _ = models_at("0002_rename_expand")
    old = Traffic("old", OldBook, {"title": "title", "pages": "pages"})
    new = Traffic("new", NewBook, {"title": "headline", "pages": "page_count"})
    old.other, new.other = new, old

    old.start()
    try:
        time.sleep(0.3)
        migrate("0003", pre_deploy=True)
        new.start()  # The rollout: both releases run.
        time.sleep(0.5)
    finally:
        stop(old)
    try:
        migrate("0003")
        time.sleep(0.3)
    finally:
        stop(new)

    assert old.errors == new.errors == []
    assert len(old.written) > 50 and len(new.written) > 50
    assert old.reads > 10 and new.reads > 10
    rows = {
        pk: (title, pages)
        for pk, title, pages in NewBook.objects.values_list("pk", "headline", "page_count")
    }
    assert rows == {
        **{pk: (f"book {pk}", pk) for pk in range(1, 20001)},
        **old.written,
        **new.written,
    }
