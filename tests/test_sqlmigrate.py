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


def test_sqlmigrate_shows_no_bounds_for_non_atomic_migrations(
    use_scenario: Scenario,
) -> None:
    use_scenario("locks")
    output = sqlmigrate("alpha", "0003")
    assert output.startswith("-- Stage: pre-deploy (inferred)\n")
    assert "SET LOCAL" not in output
