"""Column types changed in an expand and a contract step: on a real
PostgreSQL, no table rewrite under lock, both releases working throughout,
and the schema ``AlterField`` leaves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ModelState, ProjectState

from syzygy.exceptions import UnconvertibleValues
from syzygy.operations import ContractAlterField, ExpandAlterField
from tests.test_renames import (
    Release,
    catalogue,
    copied_rows,
    deploy,
    fetch,
    kill_mid_copy,
    migrate,
    postgresql_only,
    sqlmigrate,
)

Scenario = Callable[[str], None]


def book_at(migration: str) -> Any:
    """Return the Book model of the code ``migration`` leaves deployed."""
    state = MigrationLoader(connection).project_state(("alpha", migration))
    return state.apps.get_model("alpha", "Book")


def column_types() -> dict[str, str]:
    return {name: kind for name, (kind, _, _) in catalogue()["columns"].items()}


@pytest.fixture
def books(use_scenario: Scenario) -> None:
    """The retypes scenario at 0001, with books."""
    use_scenario("retypes")
    migrate("0001")
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO alpha_book (title, rating, copies, score) "
            "VALUES (%s, %s, %s, %s)",
            [(f"book {n}", n, n % 7, n) for n in range(1, 501)],
        )


@postgresql_only
def test_expand_and_contract_leave_the_schema_stock_alter_field_leaves(
    use_scenario: Scenario,
) -> None:
    use_scenario("retypes_stock")
    migrate("0002")
    stock = catalogue()
    migrate("zero")
    use_scenario("retypes")
    migrate("0002")
    expanded = catalogue()
    migrate("0003")

    assert catalogue() == stock
    assert expanded["columns"]["rating"][0] == "integer"
    assert expanded["columns"]["rating_syzygy"][0] == "bigint"
    assert len(expanded["triggers"]) == 3


@postgresql_only
def test_the_expand_step_rewrites_nothing_and_keeps_both_columns_equal(
    books: None,
) -> None:
    ((before,),) = fetch("SELECT pg_relation_filenode('alpha_book')")
    migrate("0002")
    ((after,),) = fetch("SELECT pg_relation_filenode('alpha_book')")
    assert after == before

    Book = book_at("0001_initial")
    Book.objects.create(title="inserted", rating=2**31 - 1, copies=3)
    Book.objects.filter(title="book 7").update(rating=70, score=None)
    rows = fetch(
        "SELECT count(*) FROM alpha_book WHERE rating_syzygy IS DISTINCT FROM rating "
        "OR copies_syzygy IS DISTINCT FROM copies "
        "OR score_syzygy IS DISTINCT FROM score"
    )
    assert rows == [(0,)]
    assert fetch("SELECT count(*) FROM alpha_book") == [(501,)]


@postgresql_only
def test_the_contract_step_swaps_in_the_new_type_and_big_values_fit(
    books: None,
) -> None:
    migrate("0003")
    assert column_types() == {
        "id": "integer",
        "title": "character varying(100)",
        "rating": "bigint",
        "copies": "integer",
        "score": "integer",
    }
    NewBook = book_at("0003_alter_contract")
    NewBook.objects.create(title="big", rating=2**40, score=40_000)
    assert NewBook.objects.get(title="big").rating == 2**40
    assert NewBook.objects.get(title="big").copies == 1
    assert NewBook.objects.get(title="book 9").rating == 9
    assert catalogue()["triggers"] == []
    NewBook.objects.filter(title="big").delete()


@postgresql_only
def test_values_the_old_type_cant_hold_stop_the_revert_and_leave_nothing(
    books: None,
) -> None:
    migrate("0003")
    NewBook = book_at("0003_alter_contract")
    NewBook.objects.create(title="big", rating=1, score=40_000)
    contracted = catalogue()

    with pytest.raises(CommandError) as raised:
        migrate("0002")

    assert isinstance(raised.value.__cause__, UnconvertibleValues)
    assert str(raised.value) == (
        "The values of alpha_book.score can't all be converted to smallint "
        "(smallint out of range). Nothing was changed: the column of the new type "
        "and its trigger were dropped. Change the values that don't fit, then run "
        "the command again."
    )
    assert catalogue() == contracted
    NewBook.objects.create(title="written after", rating=2, score=50_000)
    NewBook.objects.filter(title__in=["big", "written after"]).delete()


@postgresql_only
def test_reverting_both_steps_restores_the_schema_and_the_values(books: None) -> None:
    before = catalogue()
    migrate("0003")
    assert "Copying alpha.Book.rating back to its old type" in migrate("0002")
    assert column_types()["rating"] == "integer"
    migrate("0001")
    assert catalogue() == before
    OldBook = book_at("0001_initial")
    assert OldBook.objects.get(title="book 9").rating == 9
    assert OldBook.objects.count() == 500


@postgresql_only
def test_the_expand_step_alone_reverts(books: None) -> None:
    before = catalogue()
    migrate("0002")
    migrate("0001")
    assert catalogue() == before


class Writer(Release):
    """Insert books and update ratings."""

    def __init__(self, name: str, model: Any) -> None:
        super().__init__(name)
        self.model = model
        self.written: dict[int, int] = {}

    def step(self, number: int) -> None:
        book = self.model.objects.create(
            title=f"{self.name} {number}", rating=number, copies=2
        )
        self.written[book.pk] = number
        if number % 2 == 0:
            pk = list(self.written)[number // 2 - 1]
            self.model.objects.filter(pk=pk).update(rating=-number)
            self.written[pk] = -number


@postgresql_only
def test_a_rolling_deploy_of_a_type_change_never_fails_a_query(
    use_scenario: Scenario,
) -> None:
    use_scenario("retypes")
    migrate("0001")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_book (title, rating, copies) "
            "SELECT 'book ' || n, n, 1 FROM generate_series(1, 20000) n"
        )
    OldBook = book_at("0001_initial")
    NewBook = book_at("0003_alter_contract")
    old, new = Writer("old", OldBook), Writer("new", NewBook)

    deploy(old, new, "0003")

    assert old.errors == new.errors == []
    assert len(old.written) > 50
    assert len(new.written) > 50
    ratings = dict(NewBook.objects.values_list("pk", "rating"))
    assert ratings == {
        **{pk: pk for pk in range(1, 20001)},
        **old.written,
        **new.written,
    }
    assert column_types()["rating"] == "bigint"


@postgresql_only
def test_sqlmigrate_shows_the_statements_of_each_step(books: None) -> None:
    sql = sqlmigrate("0002")
    assert 'ADD COLUMN IF NOT EXISTS "rating_syzygy" bigint NULL;' in sql
    assert 'NEW."rating_syzygy" := NEW."rating"::bigint;' in sql
    assert 'NEW."rating" := NEW."rating_syzygy"::integer;' in sql
    assert 'SET "rating_syzygy" = "rating"::bigint WHERE "id" <= %s' in sql
    assert 'CREATE INDEX CONCURRENTLY "alpha_book_alpha_book_rating_syzygy_' in sql

    sql = sqlmigrate("0003")
    assert 'ALTER TABLE "alpha_book" DROP COLUMN IF EXISTS "rating";' in sql
    assert 'ALTER TABLE "alpha_book" RENAME COLUMN "rating_syzygy" TO "rating";' in sql
    assert 'ALTER COLUMN "copies" SET DEFAULT 1;' in sql
    assert "Copying" not in sql

    sql = sqlmigrate("0003", backwards=True)
    assert 'ADD COLUMN IF NOT EXISTS "rating_syzygy" integer NULL;' in sql
    assert 'RENAME COLUMN "rating_syzygy" TO "rating";' in sql


@pytest.mark.skipif(connection.vendor == "postgresql", reason="not on PostgreSQL")
def test_elsewhere_the_contract_step_alters_the_field(books: None) -> None:
    migrate("0002")
    Book = book_at("0001_initial")
    assert Book.objects.get(title="book 3").rating == 3
    migrate("0003")
    NewBook = book_at("0003_alter_contract")
    NewBook.objects.create(title="big", rating=2**40, copies=1)
    assert NewBook.objects.get(title="big").rating == 2**40
    migrate("0001")


def test_each_step_describes_and_deconstructs_itself() -> None:
    field = models.BigIntegerField(db_index=True)
    expand = ExpandAlterField("book", "rating", field)
    contract = ContractAlterField("book", "rating", field)

    assert expand.describe() == (
        "Add a column of the new type of field rating on book, in sync until the "
        "contract step (pre-deploy)"
    )
    assert contract.describe() == (
        "Alter field rating on book: swap in the column of the new type (post-deploy)"
    )
    assert expand.migration_name_fragment == "alter_book_rating_expand"
    assert contract.migration_name_fragment == "alter_book_rating_contract"
    for operation in (expand, contract):
        _, _, kwargs = operation.deconstruct()
        assert kwargs["field"] is field
        assert kwargs["model_name"] == "book"
        assert kwargs["name"] == "rating"
    assert expand.references_field("Book", "rating", "alpha")
    assert not expand.references_field("book", "title", "alpha")
    assert not expand.references_model("publisher", "alpha")
    state = ProjectState()
    state.add_model(
        ModelState("alpha", "Book", [("rating", models.IntegerField())], {})
    )
    expand.state_forwards("alpha", state)
    assert isinstance(
        state.models["alpha", "book"].fields["rating"], models.IntegerField
    )


@postgresql_only
def test_an_expand_killed_mid_copy_resumes_on_the_next_run(
    use_scenario: Scenario, tmp_path: Path
) -> None:
    use_scenario("retypes")
    migrate("0001")
    rows = 100_000
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_book (title, rating, copies) "
            "SELECT 'book ' || n, n, 1 FROM generate_series(1, %s) n",
            [rows],
        )
    kill_mid_copy("retypes", "rating_syzygy", tmp_path / "migrate.out")

    assert 0 < copied_rows("rating_syzygy") < rows
    Book = book_at("0001_initial")
    Book.objects.filter(pk=rows).update(rating=-1)

    assert "Copying alpha.Book.rating to its new type" in migrate("0002")
    assert copied_rows("rating_syzygy") == rows
    assert fetch("SELECT rating_syzygy FROM alpha_book WHERE id = %s", [rows]) == [
        (-1,)
    ]
    migrate("0003")
    assert column_types()["rating"] == "bigint"
    assert Book.objects.get(pk=rows).rating == -1
    # Quicker to revert.
    Book.objects.all().delete()


def test_the_expand_step_lets_operations_on_other_fields_move_across() -> None:
    from django.db.migrations import operations

    expand = ExpandAlterField("book", "rating", models.BigIntegerField())
    other = operations.AddField("book", "pages", models.IntegerField(null=True))
    same = operations.RemoveField("book", "rating")
    assert expand.reduce(other, "alpha") is True
    assert expand.reduce(same, "alpha") is False


@postgresql_only
@pytest.mark.django_db
def test_a_long_column_gets_a_shadow_of_a_name_postgresql_accepts() -> None:
    from syzygy.operations.column_types import _shadow_column

    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        assert _shadow_column(editor, "book", "rating") == "rating_syzygy"
        column = "a" * (connection.ops.max_name_length() - 3)
        shadow = _shadow_column(editor, "book", column)
    assert len(shadow) <= connection.ops.max_name_length()
    assert shadow.endswith("_syzygy")


@postgresql_only
def test_a_conversion_given_changes_text_to_integers(use_scenario: Scenario) -> None:
    use_scenario("conversions")
    migrate("0001")
    OldBook = book_at("0001_initial")
    OldBook.objects.bulk_create(OldBook(code=code) for code in ["12", " ", "7", None])

    migrate("0002")
    OldBook.objects.create(code="5")
    OldBook.objects.filter(code="7").update(code="70")
    migrate("0003")

    assert column_types()["code"] == "integer"
    NewBook = book_at("0003_alter_book_code_contract")
    assert list(NewBook.objects.order_by("pk").values_list("code", flat=True)) == [
        12,
        None,
        70,
        None,
        5,
    ]
    NewBook.objects.create(code=123)
    migrate("0001")
    assert column_types()["code"] == "character varying(10)"
    assert list(OldBook.objects.order_by("pk").values_list("code", flat=True)) == [
        "12",
        None,
        "70",
        None,
        "5",
        "123",
    ]


def test_a_conversion_without_the_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="must be an SQL expression") as raised:
        ExpandAlterField(
            "book", "code", models.IntegerField(), conversion="code::integer"
        )
    assert str(raised.value) == (
        "ExpandAlterField's conversion is 'code::integer'; it must be an SQL "
        "expression with {column} for the value to convert, such as "
        "\"NULLIF({column}, '')::integer\"."
    )
    contract = ContractAlterField(
        "book", "code", models.IntegerField(), reverse_conversion="{column}::text"
    )
    assert contract.deconstruct()[2]["reverse_conversion"] == "{column}::text"
    assert "conversion" not in contract.deconstruct()[2]
