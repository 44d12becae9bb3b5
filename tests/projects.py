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


def manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with ``args`` in the project at ``root``."""
    environment = {
        **os.environ,
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
