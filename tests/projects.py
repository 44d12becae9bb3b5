"""Throwaway Django projects, run with ``manage.py`` in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS = """\
SECRET_KEY = "throwaway"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["syzygy", "library"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
}
"""

INITIAL = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
                ("isbn", models.CharField(max_length=13, null=True)),
                ("pages", models.IntegerField(null=True)),
            ],
        ),
    ]
"""


def write_project(root: Path, settings: str = "") -> Path:
    """Write a project with one app, ``library``, and its initial migration;
    ``settings`` is appended to its settings. Return its migrations directory."""
    (root / "settings.py").write_text(SETTINGS + settings)
    migrations = root / "library" / "migrations"
    migrations.mkdir(parents=True)
    (root / "library" / "__init__.py").write_text("")
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_initial.py").write_text(INITIAL)
    return migrations


def manage(
    root: Path, *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with ``args`` in the project at ``root``, with
    ``environment`` added to the environment."""
    environment = {
        **os.environ,
        **(environment or {}),
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(root),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def database_settings(name: str) -> str:
    """Return the ``DATABASES`` setting of a project whose database is
    ``name``, on the database server of the test run."""
    from django.conf import settings

    database = dict(settings.DATABASES["default"])
    if database["ENGINE"].endswith("sqlite3"):
        database["NAME"] = f"{name}.sqlite3"
    else:
        database["NAME"] = name
    for key in list(database):
        if key not in ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD"):
            del database[key]
    return f"DATABASES = {{'default': {database!r}}}\n"


# What a project's database holds that a rehearsal must not change.
SNAPSHOT = """
import json
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
with connection.cursor() as cursor:
    tables = {
        table: sorted(
            column.name
            for column in connection.introspection.get_table_description(cursor, table)
        )
        for table in connection.introspection.table_names(cursor)
    }
recorder = MigrationRecorder(connection)
applied = sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())
print(json.dumps({"tables": tables, "applied": applied}))
"""


def snapshot(root: Path) -> str:
    """Return the tables, columns and applied migrations of the database of
    the project at ``root``."""
    result = manage(root, "shell", "-c", SNAPSHOT)
    assert result.returncode == 0, result.stderr
    return result.stdout
