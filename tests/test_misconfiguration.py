"""Misconfigurations end in one message naming the setting or option and
what it accepts: no traceback, nothing applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import override_settings

from syzygy.lint import check_unsafe_operations

from .projects import manage, write_project
from .quorum_support import closed_port

REDIS = """
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    },
}
"""


def recorded(root: Path) -> list[tuple[str, str]]:
    """Return the migrations recorded as applied in the project's database."""
    database = root / "db.sqlite3"
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'django_migrations'"
        ).fetchall()
        if not tables:
            return []
        return connection.execute("SELECT app, name FROM django_migrations").fetchall()


def assert_one_line(stderr: str, expected: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [expected]


@pytest.mark.parametrize(
    ("settings", "arguments", "message"),
    [
        (
            'MIGRATION_STAGES_OVERRIDE = {"library": "PRE_DEPOLY"}',
            ("migrate", "--skip-checks"),
            "CommandError: MIGRATION_STAGES_OVERRIDE['library'] is 'PRE_DEPOLY', "
            "which is not a stage; accepted values are syzygy.Stage.PRE_DEPLOY or "
            "syzygy.Stage.POST_DEPLOY (or the strings 'PRE_DEPLOY' and "
            "'POST_DEPLOY').",
        ),
        (
            "SYZYGY_LOCK_TIMEOUT = '200ms'",
            ("migrate", "--pre-deploy", "--skip-checks"),
            "CommandError: SYZYGY_LOCK_TIMEOUT is '200ms'; accepted values are a "
            "number of seconds from 0.001 to 2147483 or None.",
        ),
        (
            "",
            ("migrate", "--quorum", "2"),
            "CommandError: --quorum 2: MIGRATION_QUORUM_BACKEND must be set to "
            "coordinate a quorum: an import path such as "
            "'syzygy.quorum.backends.cache.CacheQuorum', or a dict with that path "
            "under 'backend' and the backend's options.",
        ),
        (
            'MIGRATION_QUORUM_BACKEND = "syzygy.quorum.backends.cache.CacheQuorom"',
            ("migrate", "--quorum", "2"),
            "CommandError: --quorum 2: MIGRATION_QUORUM_BACKEND names "
            "'syzygy.quorum.backends.cache.CacheQuorom', which can't be imported: "
            'Module "syzygy.quorum.backends.cache" does not define a "CacheQuorom" '
            "attribute/class",
        ),
        (
            REDIS + 'MIGRATION_QUORUM_BACKEND = {"backend": '
            '"syzygy.quorum.backends.cache.CacheQuorum", "alias": "quorum"}',
            ("migrate", "--quorum", "2"),
            "CommandError: --quorum 2: CacheQuorum's alias is 'quorum', which is not "
            "in the CACHES setting; accepted values are 'default', 'redis'.",
        ),
        (
            'MIGRATION_QUORUM_BACKEND = "syzygy.quorum.backends.cache.CacheQuorum"',
            ("migrate", "--quorum", "2"),
            "CommandError: --quorum 2: CacheQuorum needs a cache that the parties "
            "share, and the cache 'default' "
            "(django.core.cache.backends.locmem.LocMemCache) keeps its keys in the "
            "memory of one process; use Redis or memcached.",
        ),
        (
            "",
            ("migrate", "--quorum", "0"),
            "CommandError: --quorum must be a whole number of parties, at least 1, "
            "not 0.",
        ),
    ],
)
def test_misconfiguration_is_one_line_and_applies_nothing(
    tmp_path: Path, settings: str, arguments: tuple[str, ...], message: str
) -> None:
    write_project(tmp_path, settings)
    result = manage(tmp_path, *arguments)
    assert result.returncode == 1
    assert_one_line(result.stderr, message)
    assert recorded(tmp_path) == []


def test_bad_setting_is_one_check_error_naming_it(tmp_path: Path) -> None:
    write_project(tmp_path, 'MIGRATION_STAGES_OVERRIDE = {"library": "PRE_DEPOLY"}')
    for arguments in (("check",), ("migrate",), ("migrate", "--pre-deploy")):
        result = manage(tmp_path, *arguments)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert (
            "?: (syzygy.E003) MIGRATION_STAGES_OVERRIDE['library'] is 'PRE_DEPOLY', "
            "which is not a stage" in result.stderr
        )
    assert recorded(tmp_path) == []


def test_unreachable_postgresql_is_one_check_error(tmp_path: Path) -> None:
    port = closed_port()
    write_project(
        tmp_path,
        f"""
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "syzygy_nowhere",
        "HOST": "127.0.0.1",
        "PORT": "{port}",
        "USER": "postgres",
    }}
}}
""",
    )
    for arguments in (("check", "--database", "default"), ("migrate",)):
        result = manage(tmp_path, *arguments)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if "syzygy." in line]
        assert len(errors) == 1
        assert errors[0].startswith(
            "?: (syzygy.E004) The migrations not yet applied on database 'default' "
            "can't be linted: its migration history can't be read (connection "
        )
        assert f"port {port} failed" in errors[0]


@pytest.mark.django_db
def test_migrate_validates_every_setting_before_anything() -> None:
    with (
        override_settings(SYZYGY_LOCK_RETRIES="3"),
        pytest.raises(CommandError) as raised,
    ):
        call_command("migrate", skip_checks=True, verbosity=0)
    assert str(raised.value) == (
        "SYZYGY_LOCK_RETRIES is '3'; accepted values are whole numbers from 0."
    )


@pytest.mark.django_db
def test_the_1x_stage_option_takes_a_stage() -> None:
    with pytest.raises(CommandError) as raised:
        call_command("migrate", stage="LATER", verbosity=0)
    assert str(raised.value) == (
        "--stage must be PRE_DEPLOY or POST_DEPLOY, not 'LATER'."
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="an unreachable server is a PostgreSQL matter "
    "(SYZYGY_TEST_DATABASE=postgresql)",
)
@pytest.mark.django_db(transaction=True)
def test_the_lint_of_an_unreachable_database_is_one_error() -> None:
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = str(closed_port())
    try:
        messages = check_unsafe_operations(databases=["default"])
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert [message.id for message in messages] == ["syzygy.E004"]
    assert messages[0].msg.startswith(
        "The migrations not yet applied on database 'default' can't be linted: "
        "its migration history can't be read (connection"
    )
    assert messages[0].hint == (
        "Check DATABASES['default'] and that the database server is running and "
        "reachable."
    )
