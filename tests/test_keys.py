"""Primary keys widened in an expand and a contract step, with every column
that references them: on a real PostgreSQL, no table rewritten under lock,
both releases working throughout, and the schema ``AlterField`` leaves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from tests.test_renames import fetch, postgresql_only

Scenario = Callable[[str], None]

TABLES = (
    "alpha_author",
    "beta_book",
    "beta_profile",
    "beta_club",
    "beta_club_members",
)


def migrate(app_label: str, target: str, **options: Any) -> None:
    call_command("migrate", app_label, target, verbosity=0, **options)


def schema() -> dict[str, Any]:
    """Return the columns, indexes, constraints, triggers and sequences of
    the tables, in forms that don't depend on the order of the columns."""
    found: dict[str, Any] = {}
    for table in TABLES:
        found[table] = {
            "columns": {
                name: (kind, not_null, default, identity)
                for name, kind, not_null, default, identity in fetch(
                    "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                    "pg_get_expr(adbin, adrelid), attidentity FROM pg_attribute "
                    "LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum "
                    "WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped",
                    [table],
                )
            },
            "indexes": dict(
                fetch(
                    "SELECT relname, pg_get_indexdef(indexrelid) FROM pg_index "
                    "JOIN pg_class ON pg_class.oid = indexrelid "
                    "WHERE indrelid = %s::regclass",
                    [table],
                )
            ),
            "constraints": dict(
                fetch(
                    "SELECT conname, pg_get_constraintdef(oid) || ' ' || "
                    "convalidated FROM pg_constraint WHERE conrelid = %s::regclass",
                    [table],
                )
            ),
            "triggers": fetch(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal",
                [table],
            ),
        }
    found["sequences"] = fetch(
        "SELECT sequencename, data_type::text, start_value, min_value, max_value "
        "FROM pg_sequences WHERE sequencename LIKE 'alpha_%%' "
        "OR sequencename LIKE 'beta_%%' ORDER BY 1"
    )
    found["functions"] = fetch(
        "SELECT proname FROM pg_proc WHERE proname LIKE %s", ["%sync"]
    )
    return found


@postgresql_only
def test_expand_and_contract_leave_the_schema_stock_alter_field_leaves(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys_stock")
    migrate("beta", "0001")
    migrate("alpha", "0002")
    stock = schema()
    migrate("alpha", "zero")
    use_scenario("keys")
    migrate("beta", "0001")
    before = schema()
    migrate("alpha", "0002")
    expanded = schema()
    migrate("alpha", "0003")

    assert schema() == stock
    assert expanded["alpha_author"]["columns"]["id_syzygy"][0] == "bigint"
    assert expanded["beta_club_members"]["columns"]["author_id_syzygy"][0] == "bigint"
    assert len(expanded["functions"]) == 5
    # Reverted, the columns referencing the key are narrowed too (stock
    # AlterField leaves those of models applied after it); the foreign keys
    # take the names AlterField gives them.
    migrate("alpha", "0001")
    assert named_as_altered(schema()) == named_as_altered(before)


def named_as_altered(found: dict[str, Any]) -> dict[str, Any]:
    """Return ``found`` with its foreign keys named as AlterField names them."""
    for table in TABLES:
        found[table]["constraints"] = {
            re.sub("_fk_.*", "_fk", name): definition
            for name, definition in found[table]["constraints"].items()
        }
    return found
