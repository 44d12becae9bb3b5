"""Lock-safe operations on a real PostgreSQL: the SQL run, the resulting
catalogue, retries behind a conflicting lock, and interrupted runs."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import NotSupportedError, OperationalError, connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models import Index
from django.test.utils import CaptureQueriesContext, override_settings

from syzygy.operations import AddIndexConcurrently, BackfillField
from tests.test_locks import TableLock, applied

Scenario = Callable[[str], None]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="lock-safe strategies apply on PostgreSQL (SYZYGY_TEST_DATABASE=postgresql)",
)


def fetch(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def migrate_capturing(target: str, **options: object) -> list[str]:
    """Migrate alpha to ``target``; return the DDL and DML statements run."""
    with CaptureQueriesContext(connection) as queries:
        call_command("migrate", "alpha", target, verbosity=0, **options)
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith(("CREATE", "ALTER", "DROP", "UPDATE"))
        and "django_migrations" not in query["sql"]
    ]


def indexes() -> dict[str, bool]:
    """Return the indexes of alpha_book and whether each is valid."""
    return dict(
        fetch(  # type: ignore[arg-type]
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'alpha_book'::regclass AND NOT i.indisprimary"
        )
    )


def constraints() -> dict[str, tuple[str, bool]]:
    """Return the constraints of alpha_book: type and whether validated."""
    return {
        name: (kind, validated)
        for name, kind, validated in fetch(
            "SELECT conname, contype, convalidated FROM pg_constraint "
            "WHERE conrelid = 'alpha_book'::regclass AND contype != 'p'"
        )
    }  # type: ignore[misc]


def is_not_null(column: str) -> bool:
    ((not_null,),) = fetch(
        "SELECT attnotnull FROM pg_attribute "
        "WHERE attrelid = 'alpha_book'::regclass AND attname = %s",
        [column],
    )
    return bool(not_null)


@pytest.fixture
def books(use_scenario: Scenario) -> None:
    """Migrate the lock_safe scenario to 0001 and add a few books."""
    use_scenario("lock_safe")
    call_command("migrate", "alpha", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_book (title, pages) "
            "SELECT 'book ' || n, n FROM generate_series(1, 50) n"
        )


def test_each_lock_safe_operation_runs_its_lock_safe_sql(books: None) -> None:
    # Add an index: CONCURRENTLY.
    assert migrate_capturing("0002") == [
        'CREATE INDEX CONCURRENTLY "book_title_idx" ON "alpha_book" ("title")'
    ]
    assert indexes() == {"book_title_idx": True}

    # Check and unique constraints: NOT VALID + VALIDATE; unique index
    # CONCURRENTLY + USING INDEX.
    assert migrate_capturing("0003") == [
        'ALTER TABLE "alpha_book" ADD CONSTRAINT "book_pages_positive" '
        'CHECK ("pages" >= 0) NOT VALID',
        'ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "book_pages_positive"',
        'CREATE UNIQUE INDEX CONCURRENTLY "book_title_unique" ON "alpha_book" '
        '("title")',
        'ALTER TABLE "alpha_book" ADD CONSTRAINT "book_title_unique" '
        'UNIQUE USING INDEX "book_title_unique"',
        'CREATE UNIQUE INDEX CONCURRENTLY "book_title_pages_unique" ON "alpha_book" '
        '("title", "pages") NULLS NOT DISTINCT',
        'ALTER TABLE "alpha_book" ADD CONSTRAINT "book_title_pages_unique" '
        'UNIQUE USING INDEX "book_title_pages_unique" DEFERRABLE INITIALLY DEFERRED',
        'CREATE UNIQUE INDEX CONCURRENTLY "book_big_pages_unique" ON "alpha_book" '
        '("pages") WHERE "pages" > 1000',
    ]
    assert constraints() == {
        "book_pages_positive": ("c", True),
        "book_title_unique": ("u", True),
        "book_title_pages_unique": ("u", True),
    }
    assert indexes()["book_big_pages_unique"] is True

    # A foreign key: column, NOT VALID + VALIDATE, index CONCURRENTLY; an
    # index on an existing column.
    statements = migrate_capturing("0004")
    foreign_key = "alpha_book_publisher_id_cdd8c3db_fk_alpha_publisher_id"
    assert statements == [
        'ALTER TABLE "alpha_book" ADD COLUMN "publisher_id" integer NULL',
        f'ALTER TABLE "alpha_book" ADD CONSTRAINT "{foreign_key}" FOREIGN KEY '
        '("publisher_id") REFERENCES "alpha_publisher" ("id") DEFERRABLE '
        "INITIALLY DEFERRED NOT VALID",
        f'ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "{foreign_key}"',
        'CREATE INDEX CONCURRENTLY "alpha_book_publisher_id_cdd8c3db" ON '
        '"alpha_book" ("publisher_id")',
        'CREATE INDEX CONCURRENTLY "alpha_book_title_01a668a8" ON "alpha_book" '
        '("title")',
        'CREATE INDEX CONCURRENTLY "alpha_book_title_01a668a8_like" ON '
        '"alpha_book" ("title" varchar_pattern_ops)',
    ]
    assert constraints()[foreign_key] == ("f", True)
    assert all(indexes().values())
    assert len(indexes()) == 7

    # NULL -> NOT NULL: a validated check lets SET NOT NULL skip its scan.
    check = "alpha_book_pages_08cf991f_notnull"
    assert migrate_capturing("0005") == [
        f'ALTER TABLE "alpha_book" ADD CONSTRAINT "{check}" '
        'CHECK ("pages" IS NOT NULL) NOT VALID',
        f'ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "{check}"',
        'ALTER TABLE "alpha_book" ALTER COLUMN "pages" SET NOT NULL',
        f'ALTER TABLE "alpha_book" DROP CONSTRAINT IF EXISTS "{check}"',
    ]
    assert is_not_null("pages")
    assert check not in constraints()

    # A volatile default: added NULLable, filled row by row, then NOT NULL.
    stdout = StringIO()
    call_command("migrate", "alpha", "0007", stdout=stdout)
    assert "Backfilling alpha.Book.ref: [####" in stdout.getvalue()
    assert fetch("SELECT count(DISTINCT ref), count(*) FROM alpha_book") == [(50, 50)]
    assert is_not_null("ref")

    # Backwards, to where it started.
    call_command("migrate", "alpha", "0001", verbosity=0)
    assert indexes() == {}
    assert constraints() == {}
    assert not is_not_null("pages")


def test_statements_of_a_non_atomic_migration_retry_behind_a_lock(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0002", verbosity=0)
    lock = TableLock("alpha_book")
    stdout = StringIO()
    try:
        with (
            lock.held_for(1.5),
            override_settings(SYZYGY_LOCK_TIMEOUT=0.1, SYZYGY_LOCK_RETRY_DELAY=0.1),
        ):
            call_command("migrate", "alpha", "0003", stdout=stdout, no_color=True)
    finally:
        lock.close()
    assert (
        "Applying alpha.0003_book_constraints... lock wait timed out"
        in stdout.getvalue()
    )
    assert stdout.getvalue().rstrip().endswith("OK")
    assert applied("0003_book_constraints") == 1
    assert constraints()["book_title_unique"] == ("u", True)


def test_a_non_atomic_migration_that_gives_up_resumes_when_run_again(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0004", verbosity=0)
    lock = TableLock("alpha_book")
    lock.hold()
    try:
        with (
            override_settings(
                SYZYGY_LOCK_TIMEOUT=0.05,
                SYZYGY_LOCK_RETRIES=1,
                SYZYGY_LOCK_RETRY_DELAY=0.05,
            ),
            pytest.raises(CommandError) as raised,
        ):
            call_command("migrate", "alpha", "0005", verbosity=0)
    finally:
        lock.close()
    assert str(raised.value).startswith(
        "Gave up on alpha.0005_book_pages_not_null: its statement 'ALTER TABLE "
        '"alpha_book" ADD CONSTRAINT "alpha_book_pages_08cf991f_notnull" CHECK '
        '("pages" IS NOT NULL) NOT VALID\' could not take its locks within '
        "SYZYGY_LOCK_TIMEOUT (0.05 s) in 2 attempts. It is not atomic"
    )
    assert applied("0005_book_pages_not_null") == 0
    # Run again, it picks up where it stopped.
    call_command("migrate", "alpha", "0005", verbosity=0)
    assert applied("0005_book_pages_not_null") == 1
    assert is_not_null("pages")


def test_duplicates_fail_a_unique_constraint_clearly_and_leave_no_index(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0002", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE alpha_book SET title = 'twin' WHERE id IN (3, 4)")
    with pytest.raises(CommandError) as raised:
        call_command("migrate", "alpha", "0003", verbosity=0)
    assert str(raised.value) == (
        "The unique constraint book_title_unique can't be added: some rows have "
        "the same values. No index was left behind; remove the duplicates, then "
        "run the command again."
    )
    assert "book_title_unique" not in indexes()
    assert applied("0003_book_constraints") == 0
    # The check constraint before it is there: the migration isn't atomic.
    assert constraints() == {"book_pages_positive": ("c", True)}

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM alpha_book WHERE id = 4")
    call_command("migrate", "alpha", "0003", verbosity=0)
    assert constraints()["book_title_unique"] == ("u", True)


def test_an_invalid_index_left_by_a_failed_build_is_rebuilt(books: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE alpha_book SET title = 'twin' WHERE id IN (3, 4)")
    # A unique build over duplicates fails and leaves its index INVALID.
    with (
        pytest.raises(Exception, match="could not create unique index"),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY book_title_idx ON alpha_book (title)"
        )
    assert indexes() == {"book_title_idx": False}
    statements = migrate_capturing("0002")
    assert statements == [
        'DROP INDEX CONCURRENTLY IF EXISTS "book_title_idx"',
        'CREATE INDEX CONCURRENTLY "book_title_idx" ON "alpha_book" ("title")',
    ]
    assert indexes() == {"book_title_idx": True}


def test_non_atomic_statements_are_not_retried_on_other_errors(books: None) -> None:
    call_command("migrate", "alpha", "0004", verbosity=0)
    lock = TableLock("alpha_book")
    lock.hold()
    try:
        with (
            override_settings(SYZYGY_LOCK_TIMEOUT=None, SYZYGY_STATEMENT_TIMEOUT=0.1),
            pytest.raises(OperationalError, match="statement timeout"),
        ):
            call_command("migrate", "alpha", "0005", verbosity=0)
    finally:
        lock.close()
    assert applied("0005_book_pages_not_null") == 0


def test_lock_safe_operations_refuse_to_run_in_a_transaction(books: None) -> None:
    operation = AddIndexConcurrently("book", Index(fields=["title"], name="idx"))
    state = ProjectState()
    with (
        connection.schema_editor(atomic=True) as schema_editor,
        pytest.raises(NotSupportedError) as raised,
    ):
        operation.database_forwards("alpha", schema_editor, state, state)
    assert str(raised.value) == (
        "AddIndexConcurrently can't run inside a transaction on PostgreSQL: set "
        "atomic = False on its migration."
    )


@pytest.mark.parametrize(
    ("name", "run_again"),
    [
        ("0002_book_title_index", []),
        (
            "0003_book_constraints",
            ['ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "book_pages_positive"'],
        ),
        ("0005_book_pages_not_null", []),
    ],
)
def test_lock_safe_operations_skip_what_an_interrupted_run_did(
    books: None, name: str, run_again: list[str]
) -> None:
    target = name[:4]
    call_command("migrate", "alpha", target, verbosity=0)
    # As if the run had stopped just before recording the migration.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'alpha' AND name = %s", [name]
        )
    assert migrate_capturing(target) == run_again
    assert applied(name) == 1


def test_a_foreign_key_constraint_over_an_indexed_column_builds_no_index(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0008", verbosity=0)
    before = indexes()
    statements = migrate_capturing("0009")
    foreign_key = "alpha_book_publisher_id_cdd8c3db_fk_alpha_publisher_id"
    assert statements == [
        f'ALTER TABLE "alpha_book" ADD CONSTRAINT "{foreign_key}" FOREIGN KEY '
        '("publisher_id") REFERENCES "alpha_publisher" ("id") DEFERRABLE '
        "INITIALLY DEFERRED NOT VALID",
        f'ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "{foreign_key}"',
    ]
    assert indexes() == before


def test_a_backfill_batch_retries_behind_a_row_lock(books: None) -> None:
    call_command("migrate", "alpha", "0006", verbosity=0)
    lock = TableLock("alpha_book")
    with lock.connection.cursor() as cursor:
        cursor.execute("SELECT * FROM alpha_book WHERE id = 3 FOR UPDATE")
    release = threading.Timer(1.0, lock.release)
    release.start()
    stdout = StringIO()
    try:
        with override_settings(SYZYGY_LOCK_TIMEOUT=0.1, SYZYGY_LOCK_RETRY_DELAY=0.1):
            call_command("migrate", "alpha", "0007", stdout=stdout)
    finally:
        release.cancel()
        lock.close()
    holder = lock.named("SELECT * FROM alpha_book WHERE id = 3 FOR UPDATE")
    assert re.search(
        r"Backfilling alpha\.Book\.ref: a batch timed out waiting for a lock"
        rf": blocked by {holder}; retrying",
        stdout.getvalue(),
    )
    assert fetch("SELECT count(DISTINCT ref), count(*) FROM alpha_book") == [(50, 50)]


def test_a_backfill_batch_that_keeps_timing_out_gives_up_and_resumes(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0006", verbosity=0)
    lock = TableLock("alpha_book")
    with lock.connection.cursor() as cursor:
        cursor.execute("SELECT * FROM alpha_book WHERE id = 3 FOR UPDATE")
    stdout = StringIO()
    try:
        with (
            override_settings(
                SYZYGY_LOCK_TIMEOUT=0.05,
                SYZYGY_LOCK_RETRIES=1,
                SYZYGY_LOCK_RETRY_DELAY=0.01,
            ),
            pytest.raises(CommandError) as raised,
        ):
            call_command("migrate", "alpha", "0007", stdout=stdout)
    finally:
        lock.close()
    assert str(raised.value).startswith(
        "Gave up on alpha.0007_backfill_book_ref: a batch (Backfilling "
        "alpha.Book.ref) could not take its locks within SYZYGY_LOCK_TIMEOUT "
        "(0.05 s) in 2 attempts. It is not atomic: what ran before stays applied"
    )
    assert stdout.getvalue().count("a batch timed out waiting for a lock") == 1
    assert applied("0007_backfill_book_ref") == 0
    # The batches before the locked row stay filled; running again resumes.
    assert fetch("SELECT count(ref) FROM alpha_book") == [(2,)]
    call_command("migrate", "alpha", "0007", verbosity=0)
    assert fetch("SELECT count(DISTINCT ref), count(*) FROM alpha_book") == [(50, 50)]


def test_rows_that_break_a_constraint_fail_its_validation_clearly(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0002", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE alpha_book SET pages = -1 WHERE id = 3")
    with pytest.raises(CommandError) as raised:
        call_command("migrate", "alpha", "0003", verbosity=0)
    assert str(raised.value) == (
        "The constraint book_pages_positive can't be validated: rows of alpha_book "
        "break it. It stays NOT VALID, which checks new and updated rows already; "
        "fix the existing rows, then run the command again."
    )
    assert constraints() == {"book_pages_positive": ("c", False)}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE alpha_book SET pages = 1 WHERE id = 3")
    call_command("migrate", "alpha", "0003", verbosity=0)
    assert constraints()["book_pages_positive"] == ("c", True)


def test_a_check_left_by_an_interrupted_not_null_is_dropped_on_the_next_run(
    books: None,
) -> None:
    call_command("migrate", "alpha", "0005", verbosity=0)
    check = "alpha_book_pages_08cf991f_notnull"
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE alpha_book ADD CONSTRAINT {check} CHECK (pages IS NOT NULL)"
        )
        cursor.execute(
            "DELETE FROM django_migrations WHERE name = '0005_book_pages_not_null'"
        )
    assert migrate_capturing("0005") == [
        f'ALTER TABLE "alpha_book" DROP CONSTRAINT IF EXISTS "{check}"'
    ]
    assert check not in constraints()


def test_a_uuid4_backfill_is_computed_by_postgresql(books: None) -> None:
    call_command("migrate", "alpha", "0006", verbosity=0)
    with CaptureQueriesContext(connection) as queries:
        call_command("migrate", "alpha", "0007", verbosity=0)
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT max("id")')
        or "gen_random_uuid()" in query["sql"]
    ]
    # 50 rows, 2 a batch (the migration says so), then a batch that finds none:
    # the bounds of each batch, then an UPDATE between them.
    assert len(statements) == 51
    assert statements[:4] == [
        'SELECT max("id"), count(*) FROM (SELECT "id" FROM "alpha_book" ORDER BY '
        '"id" LIMIT 2) AS batch',
        'UPDATE "alpha_book" SET "ref" = gen_random_uuid() WHERE "id" <= 2 AND '
        '"ref" IS NULL',
        'SELECT max("id"), count(*) FROM (SELECT "id" FROM "alpha_book" WHERE "id" '
        '> 2 ORDER BY "id" LIMIT 2) AS batch',
        'UPDATE "alpha_book" SET "ref" = gen_random_uuid() WHERE "id" > 2 AND "id" '
        '<= 4 AND "ref" IS NULL',
    ]
    assert fetch("SELECT count(DISTINCT ref), count(*) FROM alpha_book") == [(50, 50)]


refs = iter(uuid.UUID(int=number) for number in range(1, 10**6))


def next_ref() -> uuid.UUID:
    """A default PostgreSQL can't compute: each value comes from Python."""
    return next(refs)


def backfill(
    name: str, field: models.Field[Any, Any], collect_sql: bool = False
) -> list[str]:
    """Run ``BackfillField`` of ``name`` on the books, migrated to 0006;
    return the SQL collected, if it is only collected."""
    from_state = MigrationLoader(connection).project_state(("alpha", "0006_book_ref"))
    operation = BackfillField("book", name, field)
    to_state = from_state.clone()
    operation.state_forwards("alpha", to_state)
    with connection.schema_editor(atomic=False, collect_sql=collect_sql) as editor:
        operation.database_forwards("alpha", editor, from_state, to_state)
    return list(editor.collected_sql) if collect_sql else []


def test_a_default_computed_in_python_is_sent_with_each_batch(books: None) -> None:
    call_command("migrate", "alpha", "0006", verbosity=0)
    with CaptureQueriesContext(connection) as queries:
        backfill("ref", models.UUIDField(default=next_ref))
    updates = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('UPDATE "alpha_book" SET "ref" = backfill.value')
    ]
    # Batches of a size of their own: 50 rows fit in the first.
    assert len(updates) == 1
    # Each row got the next value of the callable.
    values = sorted(ref.int for (ref,) in fetch("SELECT ref FROM alpha_book"))
    assert values == list(range(values[0], values[0] + 50))
    assert is_not_null("ref")


def test_sqlmigrate_shows_the_statements_of_a_batch(books: None) -> None:
    call_command("migrate", "alpha", "0006", verbosity=0)
    for default, fill in [
        (uuid.uuid4, 'UPDATE "alpha_book" SET "ref" = gen_random_uuid() WHERE'),
        (next_ref, 'UPDATE "alpha_book" SET "ref" = backfill.value FROM (VALUES'),
    ]:
        sql = backfill("ref", models.UUIDField(default=default), collect_sql=True)
        comments = [line for line in sql if line.startswith("-- ")]
        assert comments[0] == (
            "-- Fill alpha_book.ref where it is NULL, row by row, in batches of "
            "about 20 ms, each a transaction of its own"
        )
        assert comments[1].startswith(
            '-- SELECT max("id"), count(*) FROM (SELECT "id" FROM "alpha_book" '
            if default is uuid.uuid4
            else '-- SELECT "id" FROM "alpha_book" ORDER BY "id" LIMIT %s; '
        )
        assert fill in comments[1]
    # Nothing ran.
    assert fetch("SELECT count(ref) FROM alpha_book") == [(0,)]
