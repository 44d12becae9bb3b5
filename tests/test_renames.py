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
from collections.abc import Callable
from importlib.util import find_spec
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, models
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
        "AND NOT tgisinternal ORDER BY tgname",
        [TABLE],
    )
    functions = fetch(
        "SELECT proname FROM pg_proc WHERE proname LIKE %s ORDER BY proname", ["%sync"]
    )
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


def sqlmigrate(migration: str, backwards: bool = False) -> str:
    output = StringIO()
    call_command("sqlmigrate", "alpha", migration, backwards=backwards, stdout=output)
    return output.getvalue()


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
        cursor.executemany(
            "INSERT INTO alpha_book (title, pages, code, publisher_id) "
            "VALUES (%s, %s, %s, %s)",
            [(f"book {n}", n, f"code {n}", 1 + n % 2) for n in range(1, 501)],
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
    NewBook, _ = models_at("0002_rename_expand")
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
    with pytest.raises(IntegrityError, match=r"unique|duplicate"):
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


class Release(threading.Thread):
    """What a deployed release does, a step at a time, on a connection of its
    own, until it is stopped; ``errors`` are the steps that failed."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            number = 0
            while not self.stopping.is_set():
                number += 1
                try:
                    self.step(number)
                except Exception as error:
                    self.errors.append(f"{self.name}: {error!r}")
                time.sleep(0.002)
        finally:
            connections.close_all()

    def step(self, number: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def deploy(old: Release, new: Release, target: str) -> None:
    """Migrate to ``target`` as a rolling deploy does, the old release
    running, then both, then the new one."""
    old.start()
    try:
        time.sleep(0.3)
        migrate(target, pre_deploy=True)
        new.start()  # The rollout: both releases run.
        time.sleep(0.5)
    finally:
        old.stop()
    try:
        migrate(target)
        time.sleep(0.3)
    finally:
        new.stop()


class Traffic(Release):
    """Insert books, update each once, and read the other release's books."""

    def __init__(self, name: str, model: Model, fields: dict[str, str]) -> None:
        super().__init__(name)
        self.model = model
        self.fields = fields
        self.written: dict[int, tuple[str, int]] = {}
        self.other: Traffic | None = None
        self.reads = 0

    def values(self, title: str, pages: int) -> dict[str, Any]:
        return {self.fields["title"]: title, self.fields["pages"]: pages}

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


@postgresql_only
def test_a_rolling_deploy_of_a_rename_never_fails_a_query(
    use_scenario: Scenario,
) -> None:
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

    deploy(old, new, "0003")

    assert old.errors == new.errors == []
    assert len(old.written) > 50
    assert len(new.written) > 50
    assert old.reads > 10
    assert new.reads > 10
    rows = {
        pk: (title, pages)
        for pk, title, pages in NewBook.objects.values_list(
            "pk", "headline", "page_count"
        )
    }
    assert rows == {
        **{pk: (f"book {pk}", pk) for pk in range(1, 20001)},
        **old.written,
        **new.written,
    }


def copied_rows(column: str = "headline") -> int:
    ((count,),) = fetch(f"SELECT count({column}) FROM alpha_book")
    return int(count)


def kill_mid_copy(scenario: str, column: str, output: Path) -> None:
    """Run ``migrate alpha 0002`` of ``scenario`` in a process of its own and
    kill it once the copy to ``column`` has started."""

    def copying() -> bool:
        started = fetch(
            "SELECT 1 FROM pg_attribute WHERE attrelid = 'alpha_book'::regclass "
            "AND attname = %s",
            [column],
        )
        return bool(started) and copied_rows(column) > 0

    kill_when(copying, scenario, ["alpha", "0002"], output)


def kill_when(
    until: Callable[[], bool], scenario: str, arguments: list[str], output: Path
) -> None:
    """Run ``migrate`` with ``arguments`` on the migrations of ``scenario``
    in a process of its own, and kill it once ``until`` returns true."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "DJANGO_SETTINGS_MODULE": "tests.quorum_settings",
        "SYZYGY_QUORUM_TEST_DATABASE": "postgresql",
        "SYZYGY_QUORUM_TEST_NAME": connection.settings_dict["NAME"],
        "SYZYGY_QUORUM_TEST_BACKEND": "postgresql",
        "SYZYGY_QUORUM_TEST_MIGRATIONS": f"tests.migrations_scenarios.{scenario}.alpha",
    }
    beta = f"tests.migrations_scenarios.{scenario}.beta"
    if find_spec(beta) is not None:
        environment["SYZYGY_QUORUM_TEST_BETA_MIGRATIONS"] = beta
    with output.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "migrate", *arguments],
            cwd=REPOSITORY,
            env=environment,
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not until():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the moment never came"
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@postgresql_only
def test_an_expand_killed_mid_copy_resumes_on_the_next_run(
    use_scenario: Scenario, tmp_path: Path
) -> None:
    use_scenario("renames")
    migrate("0001")
    rows = 100_000
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_book (title, pages) "
            "SELECT 'book ' || n, n FROM generate_series(1, %s) n",
            [rows],
        )
    kill_mid_copy("renames", "headline", tmp_path / "migrate.out")

    # Killed mid-copy: not recorded, the new column partly filled, and the
    # trigger keeps what is written in sync meanwhile.
    assert 0 < copied_rows() < rows
    assert not fetch(
        "SELECT 1 FROM django_migrations WHERE name = '0002_rename_expand'"
    )
    OldBook, _ = models_at("0001_initial")
    OldBook.objects.filter(pk=rows).update(title="written meanwhile")

    output_text = migrate("0002")

    assert "Copying alpha.Book.title to headline" in output_text
    assert copied_rows() == rows
    NewBook, _ = models_at("0002_rename_expand")
    assert NewBook.objects.get(pk=rows).headline == "written meanwhile"
    assert not fetch(
        "SELECT count(*) FROM alpha_book WHERE headline IS DISTINCT FROM title "
        "HAVING count(*) > 0"
    )
    migrate("0003")
    assert catalogue()["triggers"] == []
    # Quicker to revert.
    NewBook.objects.all().delete()


@postgresql_only
def test_the_expand_step_run_again_changes_nothing(books: None) -> None:
    migrate("0002")
    expanded = catalogue()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE name = '0002_rename_expand'"
        )

    migrate("0002")

    assert catalogue() == expanded


@postgresql_only
def test_sqlmigrate_shows_the_statements_of_each_step(books: None) -> None:
    expand = sqlmigrate("0002")
    migrate("0002")
    contract = sqlmigrate("0003")
    backwards = sqlmigrate("0003", backwards=True)

    sql = expand
    assert 'ALTER TABLE "alpha_book" ADD COLUMN IF NOT EXISTS "headline" ' in sql
    assert "varchar(100) NULL;" in sql
    assert 'CREATE OR REPLACE FUNCTION "alpha_book_headline_title_' in sql
    assert 'BEFORE INSERT OR UPDATE ON "alpha_book" FOR EACH ROW' in sql
    assert '-- Copy "title" to "headline" where it is NULL, in batches' in sql
    assert 'SET "headline" = "title" WHERE "id" <= %s' in sql
    assert 'CREATE INDEX CONCURRENTLY "alpha_book_alpha_book_headline_' in sql
    assert 'ALTER COLUMN "page_count" SET NOT NULL' in sql

    sql = contract
    assert 'DROP TRIGGER IF EXISTS "alpha_book_headline_title_' in sql
    assert 'ALTER TABLE "alpha_book" DROP COLUMN IF EXISTS "title"' in sql
    assert 'RENAME TO "alpha_book_title_' in sql
    assert 'ALTER TABLE "alpha_book" RENAME CONSTRAINT "alpha_book_alpha_book' in sql
    assert 'ALTER COLUMN "page_count" SET DEFAULT 1' in sql
    assert '-- Copy "headline" to "title"' in backwards


@pytest.mark.skipif(connection.vendor == "postgresql", reason="not on PostgreSQL")
def test_elsewhere_the_expand_step_renames_the_column_and_the_contract_does_nothing(
    books: None,
) -> None:
    migrate("0002")
    columns = {
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), TABLE
        )
    }
    assert {"headline", "page_count", "isbn", "imprint_id"} <= columns
    assert not {"title", "pages", "code", "publisher_id"} & columns
    migrate("0003")
    NewBook, _ = models_at("0003_rename_contract")
    assert NewBook.objects.get(pk=7).headline == "book 7"
    migrate("0001")
    OldBook, _ = models_at("0001_initial")
    assert OldBook.objects.get(pk=7).title == "book 7"


def test_each_step_describes_and_deconstructs_itself() -> None:
    expand = ExpandRenameField("book", "title", "headline")
    contract = ContractRenameField("book", "title", "headline")

    assert expand.describe() == (
        "Rename field title on book to headline, keeping the old column in sync "
        "until the contract step (pre-deploy)"
    )
    assert contract.describe() == (
        "Drop the old column of field headline on book, renamed from title "
        "(post-deploy)"
    )
    assert expand.migration_name_fragment == "rename_title_book_headline_expand"
    assert contract.migration_name_fragment == "rename_title_book_headline_contract"
    for operation in (expand, contract):
        name, args, kwargs = operation.deconstruct()
        assert type(operation)(*args, **kwargs).deconstruct() == (name, args, kwargs)
        assert kwargs == {
            "model_name": "book",
            "old_name": "title",
            "new_name": "headline",
        }
    assert contract.references_field("Book", "headline", "alpha")
    assert contract.references_field("book", "title", "alpha")
    assert not contract.references_field("book", "pages", "alpha")
    assert not contract.references_model("publisher", "alpha")


@postgresql_only
def test_sqlmigrate_of_the_contract_before_the_expand_says_what_is_renamed(
    books: None,
) -> None:
    assert (
        '-- The indexes and constraints of "headline" the expand step built take '
        'the names of those of "title".'
    ) in sqlmigrate("0003")


@postgresql_only
def test_an_index_the_old_column_lacked_keeps_the_name_the_expand_gave_it(
    books: None,
) -> None:
    migrate("0002")
    (like,) = [
        name
        for name, definition in catalogue()["indexes"].items()
        if definition.endswith("(title varchar_pattern_ops)")
    ]
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{like}"')

    migrate("0003")

    (kept,) = [
        name
        for name, definition in catalogue()["indexes"].items()
        if definition.endswith("(headline varchar_pattern_ops)")
    ]
    assert kept.endswith("_syzygy")


@postgresql_only
def test_the_new_column_keeps_the_collation_and_a_long_check_name(
    use_scenario: Scenario,
) -> None:
    from django.db.migrations.state import ModelState, ProjectState

    from syzygy.operations.synced import _check_name, _SyncedColumns

    project = ProjectState()
    table = "a_table_whose_name_is_long_enough_to_cut_the_name_of_its_checks"
    project.add_model(
        ModelState(
            "alpha",
            "Shelf",
            [
                ("id", models.AutoField(primary_key=True)),
                ("label", models.CharField(max_length=10, db_collation="C")),
                ("rows", models.PositiveIntegerField()),
            ],
            {"db_table": table},
        )
    )
    Shelf = project.apps.get_model("alpha", "Shelf")
    with connection.schema_editor(collect_sql=True) as editor:
        columns = _SyncedColumns(editor, Shelf, "name", Shelf._meta.get_field("label"))
        assert columns._add_column_sql() == (
            f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS "label" '
            'varchar(10) COLLATE "C" NULL'
        )
        name = _check_name(editor, Shelf, Shelf._meta.get_field("rows"))
    assert len(name) <= 63
    assert name.startswith("a_table_whose_name")
    assert name.endswith("_check")


def test_the_expand_step_is_never_merged_into_another_rename() -> None:
    from django.db.migrations import operations
    from django.db.migrations.optimizer import MigrationOptimizer

    expand = ExpandRenameField("book", "title", "headline")
    rename = operations.RenameField("book", "headline", "name")
    other = operations.AddField("book", "pages", models.IntegerField(null=True))
    optimized = MigrationOptimizer().optimize([expand, rename, other], "alpha")
    assert optimized[:2] == [expand, rename]


def test_the_contract_step_lets_operations_on_other_fields_move_across() -> None:
    from django.db.migrations import operations

    contract = ContractRenameField("book", "title", "headline")
    other = operations.AddField("book", "pages", models.IntegerField(null=True))
    same = operations.RemoveField("book", "headline")
    assert contract.reduce(other, "alpha") is True
    assert contract.reduce(same, "alpha") is False


@postgresql_only
@pytest.mark.parametrize(
    "options", [{"db_table": "book_tags"}, {"through": "alpha.Tagging"}]
)
def test_a_many_to_many_field_of_its_own_table_renames_nothing(
    use_scenario: Scenario, options: dict[str, str]
) -> None:
    from django.db.migrations.state import ModelState, ProjectState

    key = ("id", models.AutoField(primary_key=True))
    state = ProjectState()
    state.add_model(ModelState("alpha", "Tag", [key]))
    state.add_model(
        ModelState(
            "alpha",
            "Tagging",
            [
                key,
                ("book", models.ForeignKey("alpha.Book", models.CASCADE)),
                ("tag", models.ForeignKey("alpha.Tag", models.CASCADE)),
            ],
        )
    )
    state.add_model(
        ModelState(
            "alpha",
            "Book",
            [key, ("tags", models.ManyToManyField("alpha.Tag", **options))],
        )
    )
    renamed = state.clone()
    expand = ExpandRenameField("book", "tags", "labels")
    contract = ContractRenameField("book", "tags", "labels")
    expand.state_forwards("alpha", renamed)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        expand.database_forwards("alpha", editor, state, renamed)
        contract.database_forwards("alpha", editor, renamed, renamed)
        contract.database_backwards("alpha", editor, renamed, renamed)
        expand.database_backwards("alpha", editor, renamed, state)
    assert editor.collected_sql == []
