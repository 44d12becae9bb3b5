from __future__ import annotations

from collections.abc import Callable

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

Scenario = Callable[[str], None]


def test_explore(use_scenario: Scenario) -> None:
    use_scenario("lock_safe")
    call_command("migrate", "alpha", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_book (title, pages) SELECT 'b' || i, i FROM generate_series(1, 5) i")
    for target in ["0002", "0003", "0004", "0005", "0006", "0007"]:
        with CaptureQueriesContext(connection) as queries:
            call_command("migrate", "alpha", target, verbosity=1)
        print(target)
        for q in queries.captured_queries:
            if not q["sql"].lstrip().startswith(("SELECT \"django", "SELECT \"auth", "INSERT INTO \"django", "BEGIN", "COMMIT", "SELECT\n", "\n")): print("   ", q["sql"][:300])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(distinct ref), count(*) FROM alpha_book")
        print(cursor.fetchall())
    call_command("migrate", "alpha", "0001", verbosity=1)
