"""Migrations that report the timeouts they run under."""

from __future__ import annotations

from typing import Any

# (lock_timeout, statement_timeout) as each migration saw them.
seen_timeouts: list[tuple[str, str]] = []


def report_timeouts(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        (lock_timeout,) = cursor.fetchone()
        cursor.execute("SHOW statement_timeout")
        (statement_timeout,) = cursor.fetchone()
    seen_timeouts.append((lock_timeout, statement_timeout))
