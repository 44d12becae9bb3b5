from __future__ import annotations

from collections.abc import Callable
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

Scenario = Callable[[str], None]


def sqlmigrate(*args: str, **options: object) -> str:
    stdout = StringIO()
    call_command("sqlmigrate", *args, stdout=stdout, no_color=True, **options)
    return stdout.getvalue()


def test_sqlmigrate_shows_the_stage(use_scenario: Scenario) -> None:
    use_scenario("staged")
    assert sqlmigrate("alpha", "0003").startswith("-- Stage: post-deploy (inferred)\n")
    assert sqlmigrate("alpha", "0003", backwards=True).startswith(
        "-- Stage: pre-deploy (reverting a post-deploy migration, inferred)\n"
    )
    with override_settings(MIGRATION_STAGES_OVERRIDE={"alpha": "PRE_DEPLOY"}):
        assert sqlmigrate("alpha", "0003").startswith(
            "-- Stage: pre-deploy (override)\n"
        )


def test_sqlmigrate_shows_ambiguous_and_missing_stages(use_scenario: Scenario) -> None:
    use_scenario("ambiguous")
    assert sqlmigrate("alpha", "0002").startswith(
        "-- Stage: ambiguous (set Migration.stage)\n"
    )
    use_scenario("stageless")
    assert sqlmigrate("alpha", "0003").startswith(
        "-- Stage: none of its own (no operations)\n"
    )


def test_sqlmigrate_shows_the_lock_bounds_migrate_sets(use_scenario: Scenario) -> None:
    use_scenario("staged")
    with override_settings(SYZYGY_STATEMENT_TIMEOUT=60):
        output = sqlmigrate("alpha", "0003").splitlines()
    if connection.vendor == "postgresql":
        assert output[1:4] == [
            "BEGIN;",
            "SET LOCAL lock_timeout = 200;",
            "SET LOCAL statement_timeout = 60000;",
        ]
    else:
        assert "SET LOCAL" not in "\n".join(output)


def test_sqlmigrate_says_how_non_atomic_migrations_are_bounded(
    use_scenario: Scenario,
) -> None:
    use_scenario("locks")
    output = sqlmigrate("alpha", "0003").splitlines()
    assert output[0] == "-- Stage: pre-deploy (inferred)"
    if connection.vendor == "postgresql":
        assert output[1] == (
            "-- Not atomic: each statement runs in a transaction of its own that "
            "starts with SET LOCAL lock_timeout = 200; except CONCURRENTLY ones, "
            "which can't run in a transaction and take no lock that blocks writes."
        )
    else:
        assert "SET LOCAL" not in "\n".join(output)
    with override_settings(SYZYGY_LOCK_TIMEOUT=None):
        assert "Not atomic" not in sqlmigrate("alpha", "0003")


def test_sqlmigrate_shows_the_lock_safe_statements(use_scenario: Scenario) -> None:
    use_scenario("lock_safe")
    index = sqlmigrate("alpha", "0002")
    constraints = sqlmigrate("alpha", "0003")
    not_null = sqlmigrate("alpha", "0005")
    backfill = sqlmigrate("alpha", "0007")
    if connection.vendor != "postgresql":
        assert "CONCURRENTLY" not in index
        assert "NOT VALID" not in constraints
        return
    assert 'CREATE INDEX CONCURRENTLY "book_title_idx" ON "alpha_book"' in index
    assert constraints.splitlines()[2:12] == [
        "--",
        "-- Create constraint book_pages_positive on model book without blocking "
        "writes",
        "--",
        'ALTER TABLE "alpha_book" ADD CONSTRAINT "book_pages_positive" CHECK '
        '("pages" >= 0) NOT VALID;',
        'ALTER TABLE "alpha_book" VALIDATE CONSTRAINT "book_pages_positive";',
        "--",
        "-- Create constraint book_title_unique on model book without blocking writes",
        "--",
        'CREATE UNIQUE INDEX CONCURRENTLY "book_title_unique" ON "alpha_book" '
        '("title");',
        'ALTER TABLE "alpha_book" ADD CONSTRAINT "book_title_unique" UNIQUE USING '
        'INDEX "book_title_unique";',
    ]
    assert "SET NOT NULL" in not_null
    assert '"pages" IS NOT NULL) NOT VALID;' in not_null
    assert "-- Fill alpha_book.ref where it is NULL, row by row, in batches of 2" in (
        backfill
    )
