from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from .makemigrations_harness import Case
from .makemigrations_harness import makemigrations_case as open_case

TEST_APPS = ("alpha", "beta")


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI=true a missing PostgreSQL or Redis fails the run.

    ``SYZYGY_TEST_DRIVER`` (``psycopg`` or ``psycopg2``) names the driver the
    run must use on PostgreSQL: Django takes psycopg 3 when it is installed.
    """
    expected_driver = os.environ.get("SYZYGY_TEST_DRIVER")
    if expected_driver and settings.DATABASE == "postgresql":
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        driver = "psycopg" if is_psycopg3 else "psycopg2"
        if driver != expected_driver:
            pytest.exit(
                f"SYZYGY_TEST_DRIVER is {expected_driver!r}, but Django uses {driver}.",
                returncode=1,
            )
    if os.environ.get("CI") != "true":
        return
    missing = []
    if settings.DATABASE == "postgresql":
        database = settings.DATABASES["default"]
        if not _reachable(database["HOST"], int(database["PORT"])):
            missing.append(f"PostgreSQL at {database['HOST']}:{database['PORT']}")
    redis_url = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if not _reachable(redis_url.hostname or "127.0.0.1", redis_url.port or 6379):
        missing.append(f"Redis at {redis_url.hostname}:{redis_url.port}")
    if missing:
        pytest.exit("CI=true but unreachable: " + ", ".join(missing), returncode=1)


def pytest_report_header() -> str:
    """Name the database of the run, and its driver on PostgreSQL."""
    if settings.DATABASE != "postgresql":
        return f"syzygy tests on {settings.DATABASE}"
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    driver = "psycopg 3" if is_psycopg3 else "psycopg2"
    return f"syzygy tests on postgresql with {driver}"


@pytest.fixture
def use_scenario(
    request: pytest.FixtureRequest, transactional_db: None
) -> Iterator[Callable[[str], None]]:
    """Select the migrations of ``tests/migrations_scenarios/<case>/``.

    Each app of the case (alpha, beta) uses its migrations; at the end every
    migration of the test apps is reverted on the databases the test used.
    """
    overrides: list[override_settings] = []

    def use(case: str) -> None:
        modules: dict[str, str | None] = {}
        for app_label in TEST_APPS:
            module = f"tests.migrations_scenarios.{case}.{app_label}"
            modules[app_label] = module if find_spec(module) is not None else None
        override = override_settings(MIGRATION_MODULES=modules)
        override.enable()
        overrides.append(override)

    yield use
    marker = request.node.get_closest_marker("django_db")
    databases = (marker.kwargs.get("databases") if marker else None) or ["default"]
    if overrides:
        for alias in databases:
            for app_label in TEST_APPS:
                if settings.MIGRATION_MODULES[app_label] is not None:
                    call_command(
                        "migrate", app_label, "zero", database=alias, verbosity=0
                    )
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def unrecorded_database(transactional_db: None) -> Iterator[None]:
    """Make the database look like no migration was ever applied to it."""
    recorder = MigrationRecorder(connection)
    rows = list(recorder.migration_qs.values_list("app", "name", "applied"))
    recorder.migration_qs.all().delete()
    try:
        yield
    finally:
        recorder.migration_qs.bulk_create(
            recorder.Migration(app=app, name=name, applied=at) for app, name, at in rows
        )


@pytest.fixture
def makemigrations_case(
    tmp_path: Path, transactional_db: None
) -> Iterator[Callable[[str], Case]]:
    """Install a case of tests/makemigrations_cases/ (see the harness)."""
    with ExitStack() as stack:
        yield lambda label: stack.enter_context(open_case(label, tmp_path))
