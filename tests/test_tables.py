"""Tables renamed in an expand and a contract step: on a real PostgreSQL,
code deployed before the rename works through a view under the old name
while the new code uses the new one; the schema ends as ``AlterModelTable``
leaves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from syzygy.operations import ContractAlterModelTable, ExpandAlterModelTable
from tests.test_renames import (
    Release,
    deploy,
    fetch,
    migrate,
    postgresql_only,
    sqlmigrate,
)

Scenario = Callable[[str], None]
TABLES = ("library_books", "library_books_tags", "alpha_rack", "alpha_tag")


def relations() -> dict[str, str]:
    """Return the tables and views of the alpha app: their kinds by name."""
    return dict(
        fetch(
            "SELECT relname, relkind::text FROM pg_class "
            "WHERE relkind IN ('r', 'v') AND relnamespace = 'public'::regnamespace "
            "AND (relname LIKE 'alpha%%' OR relname LIKE 'library%%')"
        )
    )


def schema(tables: tuple[str, ...] = TABLES) -> dict[str, Any]:
    """Return the columns, indexes and constraints of ``tables``, foreign key
    names aside."""
    described: dict[str, Any] = {}
    for table in tables:
        described[table] = {
            "columns": fetch(
                "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                "pg_get_expr(adbin, adrelid) FROM pg_attribute "
                "LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                [table],
            ),
            "indexes": fetch(
                "SELECT relname, pg_get_indexdef(indexrelid) FROM pg_index "
                "JOIN pg_class ON pg_class.oid = indexrelid "
                "WHERE indrelid = %s::regclass ORDER BY relname",
                [table],
            ),
            "constraints": fetch(
                "SELECT CASE contype WHEN 'f' THEN '' ELSE conname END, "
                "pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass ORDER BY 1, 2",
                [table],
            ),
        }
    return described


def models_at(migration: str) -> tuple[Any, Any, Any]:
    """Return the Book, Shelf (or Rack) and Tag models of the code
    ``migration`` leaves deployed."""
    apps = MigrationLoader(connection).project_state(("alpha", migration)).apps
    shelf = "Shelf" if migration.startswith("0001") else "Rack"
    return (
        apps.get_model("alpha", "Book"),
        apps.get_model("alpha", shelf),
        apps.get_model("alpha", "Tag"),
    )


@postgresql_only
def test_expand_and_contract_leave_the_schema_stock_operations_leave(
    use_scenario: Scenario,
) -> None:
    use_scenario("tables_stock")
    migrate("0002")
    stock = schema()
    migrate("zero")
    use_scenario("tables")
    migrate("0002")
    expanded = relations()
    migrate("0003")

    assert schema() == stock
    assert expanded == {
        "library_books": "r",
        "library_books_tags": "r",
        "alpha_rack": "r",
        "alpha_tag": "r",
        "alpha_book": "v",
        "alpha_book_tags": "v",
        "alpha_shelf": "v",
    }
    assert "alpha_book" not in relations()


@postgresql_only
def test_old_and_new_code_see_each_others_writes_between_the_steps(
    use_scenario: Scenario,
) -> None:
    use_scenario("tables")
    migrate("0001")
    OldBook, OldShelf, OldTag = models_at("0001_initial")
    shelf = OldShelf.objects.create()
    tag = OldTag.objects.create(name="old tag")
    first = OldBook.objects.create(title="before", shelf=shelf)
    first.tags.add(tag)

    migrate("0002")
    NewBook, Rack, NewTag = models_at("0002_tables_expand")

    # Inserts through the view get the table's defaults and keys.
    old = OldBook.objects.create(title="old", shelf=shelf)
    old.tags.add(tag)
    new = NewBook.objects.create(title="new", shelf_id=shelf.pk, pages=7)
    new.tags.add(NewTag.objects.get(pk=tag.pk))
    assert NewBook.objects.get(pk=old.pk).pages == 1
    assert old.pk != new.pk
    assert set(
        OldBook.objects.filter(tags__name="old tag").values_list("title", flat=True)
    ) == {"before", "old", "new"}
    assert Rack.objects.get(pk=shelf.pk).book_set.count() == 3

    # Updates and deletes, either way; rows locked through the view.
    OldBook.objects.filter(pk=new.pk).update(title="renamed by old")
    NewBook.objects.filter(pk=old.pk).update(pages=3)
    assert NewBook.objects.get(pk=new.pk).title == "renamed by old"
    assert OldBook.objects.select_for_update().filter(pk=old.pk).count() == 1
    OldBook.objects.get(pk=old.pk).tags.clear()
    NewBook.objects.filter(pk=first.pk).delete()
    assert list(OldBook.objects.order_by("pk").values_list("title", "pages")) == [
        ("old", 3),
        ("renamed by old", 7),
    ]

    migrate("0003")
    assert NewBook.objects.count() == 2


@postgresql_only
def test_reverting_both_steps_restores_the_tables(use_scenario: Scenario) -> None:
    use_scenario("tables")
    migrate("0001")
    before = schema(("alpha_book", "alpha_book_tags", "alpha_shelf", "alpha_tag"))
    migrate("0003")
    migrate("0002")
    assert relations()["alpha_book"] == "v"
    migrate("0001")
    assert "library_books" not in relations()
    assert schema(("alpha_book", "alpha_book_tags", "alpha_shelf", "alpha_tag")) == (
        before
    )


class Traffic(Release):
    """Insert, tag, update and read books."""

    def __init__(self, name: str, models: tuple[Any, Any, Any]) -> None:
        super().__init__(name)
        self.book, _, self.tag = models
        self.written: dict[int, str] = {}

    def step(self, number: int) -> None:
        tag = self.tag.objects.get(name="shared")
        book = self.book.objects.create(title=f"{self.name} {number}")
        book.tags.add(tag)
        self.written[book.pk] = book.title
        if number % 2 == 0:
            pk = list(self.written)[number // 2 - 1]
            title = f"{self.written[pk]} updated"
            self.book.objects.filter(pk=pk).update(title=title)
            self.written[pk] = title
        self.book.objects.filter(tags=tag).count()


@postgresql_only
def test_a_rolling_deploy_of_a_table_rename_never_fails_a_query(
    use_scenario: Scenario,
) -> None:
    use_scenario("tables")
    migrate("0001")
    old_models = models_at("0001_initial")
    new_models = models_at("0003_tables_contract")
    old_models[2].objects.create(name="shared")
    old, new = Traffic("old", old_models), Traffic("new", new_models)

    deploy(old, new, "0003")

    assert old.errors == new.errors == []
    assert len(old.written) > 50
    assert len(new.written) > 50
    Book = new_models[0]
    assert dict(Book.objects.values_list("pk", "title")) == {
        **old.written,
        **new.written,
    }
    assert Book.objects.filter(tags__name="shared").count() == len(Book.objects.all())


@postgresql_only
def test_sqlmigrate_shows_the_statements_of_each_step(use_scenario: Scenario) -> None:
    use_scenario("tables")
    expand = sqlmigrate("0002")
    contract = sqlmigrate("0003")
    backwards = sqlmigrate("0003", backwards=True)
    assert (
        'ALTER TABLE "alpha_book" RENAME TO "library_books";\n'
        'CREATE VIEW "alpha_book" AS SELECT * FROM "library_books";\n'
        'ALTER TABLE "alpha_book_tags" RENAME TO "library_books_tags";\n'
        'CREATE VIEW "alpha_book_tags" AS SELECT * FROM "library_books_tags";\n'
    ) in expand
    assert 'CREATE VIEW "alpha_shelf" AS SELECT * FROM "alpha_rack";' in (expand)
    assert 'DROP VIEW IF EXISTS "alpha_book";' in contract
    assert 'DROP VIEW IF EXISTS "alpha_book_tags";' in contract
    assert 'DROP VIEW IF EXISTS "alpha_shelf";' in contract
    assert (
        'CREATE OR REPLACE VIEW "alpha_shelf" AS SELECT * FROM "alpha_rack";'
    ) in backwards


@pytest.mark.skipif(connection.vendor == "postgresql", reason="not on PostgreSQL")
def test_elsewhere_the_expand_step_renames_the_tables(use_scenario: Scenario) -> None:
    use_scenario("tables")
    migrate("0002")
    tables = set(connection.introspection.table_names(include_views=True))
    assert {"library_books", "library_books_tags", "alpha_rack"} <= tables
    assert not {"alpha_book", "alpha_shelf"} & tables
    migrate("0003")
    migrate("0001")
    assert "alpha_book" in connection.introspection.table_names()


def test_each_step_describes_and_deconstructs_itself() -> None:
    expand = ExpandAlterModelTable("book", "library_books")
    contract = ContractAlterModelTable("book", "alpha_book")
    assert expand.describe() == (
        "Rename table for book to library_books, keeping a view under the old "
        "name until the contract step (pre-deploy)"
    )
    assert contract.describe() == (
        "Drop the view under the old name alpha_book of the table of book (post-deploy)"
    )
    assert expand.migration_name_fragment == "alter_book_table_expand"
    assert contract.migration_name_fragment == "alter_book_table_contract"
    assert contract.deconstruct() == (
        "ContractAlterModelTable",
        [],
        {"name": "book", "old_table": "alpha_book"},
    )
    assert contract.references_model("Book", "alpha")
    assert not contract.references_model("tag", "alpha")


def m2m_models_at(migration: str) -> tuple[Any, Any]:
    apps = MigrationLoader(connection).project_state(("alpha", migration)).apps
    return apps.get_model("alpha", "Book"), apps.get_model("alpha", "Tag")


@postgresql_only
def test_a_many_to_many_field_renamed_keeps_a_view_of_its_table(
    use_scenario: Scenario,
) -> None:
    use_scenario("m2m_rename_stock")
    migrate("0002")
    stock = schema(("alpha_book_labels",))
    migrate("zero")
    use_scenario("m2m_rename")
    migrate("0001")
    OldBook, Tag = m2m_models_at("0001_initial")
    tag = Tag.objects.create(name="old")
    OldBook.objects.create(title="before").tags.add(tag)

    migrate("0002")
    assert relations()["alpha_book_tags"] == "v"
    NewBook, _ = m2m_models_at("0002_rename_expand")
    OldBook.objects.create(title="old").tags.add(tag)
    NewBook.objects.create(title="new").labels.add(tag.pk)
    assert NewBook.objects.filter(labels=tag.pk).count() == 3
    assert OldBook.objects.filter(tags=tag).count() == 3

    migrate("0003")
    assert "alpha_book_tags" not in relations()
    assert schema(("alpha_book_labels",)) == stock
    migrate("0002")
    assert relations()["alpha_book_tags"] == "v"
    migrate("0001")
    assert relations()["alpha_book_tags"] == "r"
    assert OldBook.objects.filter(tags=tag).count() == 3


@pytest.mark.skipif(connection.vendor == "postgresql", reason="not on PostgreSQL")
def test_elsewhere_a_many_to_many_rename_renames_its_table(
    use_scenario: Scenario,
) -> None:
    use_scenario("m2m_rename")
    migrate("0003")
    assert "alpha_book_labels" in connection.introspection.table_names()
    migrate("0001")
    assert "alpha_book_tags" in connection.introspection.table_names()


def test_the_steps_let_operations_on_other_models_move_across() -> None:
    from django.db import models
    from django.db.migrations import operations

    expand = ExpandAlterModelTable("book", "library_books")
    contract = ContractAlterModelTable("book", "alpha_book")
    other = operations.AddField("tag", "color", models.IntegerField(null=True))
    field = operations.AddField("book", "color", models.IntegerField(null=True))
    table = operations.AlterModelTable("book", "books")
    assert expand.reduce(other, "alpha") is True
    assert expand.reduce(table, "alpha") is False
    assert contract.reduce(other, "alpha") is True
    assert contract.reduce(field, "alpha") is False


@postgresql_only
def test_tables_of_their_own_or_off_the_database_are_left_alone(
    use_scenario: Scenario,
) -> None:
    from django.db import models
    from django.db.migrations.state import ModelState, ProjectState

    before = ProjectState()
    before.add_model(
        ModelState("alpha", "Tag", [("id", models.AutoField(primary_key=True))])
    )
    before.add_model(
        ModelState(
            "alpha",
            "Book",
            [
                ("id", models.AutoField(primary_key=True)),
                ("tags", models.ManyToManyField("alpha.Tag", db_table="book_tags")),
            ],
        )
    )
    before.add_model(
        ModelState(
            "alpha",
            "Report",
            [("id", models.AutoField(primary_key=True))],
            {"managed": False},
        )
    )
    operations_ = [
        ExpandAlterModelTable("book", "library_books"),
        ExpandAlterModelTable("report", "reports"),
    ]
    with connection.schema_editor(collect_sql=True) as editor:
        for operation in operations_:
            after = before.clone()
            operation.state_forwards("alpha", after)
            operation.database_forwards("alpha", editor, before, after)
            before = after
    # The many-to-many table keeps its own name; the unmanaged table stays.
    assert editor.collected_sql == [
        'ALTER TABLE "alpha_book" RENAME TO "library_books";\n'
        'CREATE VIEW "alpha_book" AS SELECT * FROM "library_books";',
    ]
