"""Time ``manage.py rehearse`` on a project of ``--models`` models with
``--rows`` rows each.

A throwaway project is written to ``benchmarks/generated/rehearse`` (git
ignored): one app, ``shop``, whose models each have a text, an integer, a
decimal, a date-time and a boolean column, and a foreign key to the model
before them. Its initial migration, written by ``makemigrations``, is
applied: the code deployed now. The release, written by syzygy's
``makemigrations``, adds a nullable column to every model and a NOT NULL
column with a default to one (a pre-deploy and a post-deploy migration).

The benchmark runs ``manage.py rehearse --rows N --format json`` in a real
process, on SQLite and, if it is reachable, on PostgreSQL (127.0.0.1:5432,
user postgres; ``PGHOST``, ``PGPORT``, ``PGUSER`` override), and prints the
wall-clock time, the time per thousand rows, and whether the rehearsal
passed. It asserts nothing about the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

OUT = Path(__file__).resolve().parent / "generated" / "rehearse"


def model_source(index: int, extra: str = "") -> str:
    """Return the class of model ``index`` of the app."""
    reference = (
        f"    previous = models.ForeignKey('Model{index - 1:02d}', "
        "on_delete=models.CASCADE)\n"
        if index
        else ""
    )
    return (
        f"class Model{index:02d}(models.Model):\n"
        "    name = models.CharField(max_length=100)\n"
        "    quantity = models.IntegerField()\n"
        "    price = models.DecimalField(max_digits=10, decimal_places=2)\n"
        "    created = models.DateTimeField()\n"
        "    active = models.BooleanField(default=True)\n"
        f"{reference}{extra}\n\n"
    )


def models_source(count: int, released: bool) -> str:
    """Return ``models.py`` of the deployed code, or of the release."""
    classes = []
    for index in range(count):
        extra = ""
        if released:
            extra += "    note = models.CharField(max_length=50, null=True)\n"
            if index == 0:
                extra += "    rank = models.IntegerField(default=0)\n"
        classes.append(model_source(index, extra))
    return "from django.db import models\n\n\n" + "".join(classes)


def database_settings(vendor: str, name: str) -> str:
    if vendor == "sqlite":
        return (
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
            f"'NAME': '{name}.sqlite3'}}}}\n"
        )
    return (
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'NAME': '{name}', 'HOST': '{os.environ.get('PGHOST', '127.0.0.1')}', "
        f"'PORT': '{os.environ.get('PGPORT', '5432')}', "
        f"'USER': '{os.environ.get('PGUSER', 'postgres')}'}}}}\n"
    )


def manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
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


def checked(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode not in (0, 1):
        raise SystemExit(result.stdout + result.stderr)
    return result.stdout


def write_project(root: Path, vendor: str, name: str, models: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    migrations = root / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (migrations / "__init__.py").write_text("")
    (root / "settings.py").write_text(
        'SECRET_KEY = "benchmark"\nUSE_TZ = True\n'
        'DEFAULT_AUTO_FIELD = "django.db.models.AutoField"\n'
        'INSTALLED_APPS = ["syzygy", "shop"]\n' + database_settings(vendor, name)
    )
    (root / "shop" / "models.py").write_text(models_source(models, released=False))
    checked(manage(root, "makemigrations", "shop", "--name", "initial"))
    checked(manage(root, "migrate", "--verbosity", "0"))
    (root / "shop" / "models.py").write_text(models_source(models, released=True))
    checked(manage(root, "makemigrations", "shop", "--noinput"))


def postgresql_reachable() -> bool:
    try:
        address = (
            os.environ.get("PGHOST", "127.0.0.1"),
            int(os.environ.get("PGPORT", "5432")),
        )
        socket.create_connection(address, timeout=2).close()
    except OSError:
        return False
    return True


def run_sql(sql: str) -> None:
    """Run ``sql`` on the server's ``postgres`` database, outside transactions."""
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "postgres")
    code = (
        "import psycopg2 as driver\n"
        f"connection = driver.connect(host={host!r}, port={port!r}, user={user!r}, "
        "dbname='postgres')\n"
        "connection.autocommit = True\n"
        f"connection.cursor().execute({sql!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def measure(vendor: str, models: int, rows: int) -> tuple[float, dict[str, object]]:
    name = f"rehearse_benchmark_{uuid.uuid4().hex[:8]}"
    root = OUT / vendor
    if vendor == "postgresql":
        run_sql(f'CREATE DATABASE "{name}"')
    try:
        write_project(root, vendor, name, models)
        started = time.monotonic()
        rehearsal = manage(root, "rehearse", "--rows", str(rows), "--format", "json")
        output = checked(rehearsal)
        elapsed = time.monotonic() - started
        return elapsed, json.loads(output)
    finally:
        if vendor == "postgresql":
            run_sql(f'DROP DATABASE IF EXISTS "{name}"')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql", "both"), default="both"
    )
    options = parser.parse_args(argv)
    vendors = (
        ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    )
    if "postgresql" in vendors and not postgresql_reachable():
        print("PostgreSQL is not reachable: skipped.")
        vendors.remove("postgresql")
    print(f"rehearse: {options.models} models, {options.rows} rows per model")
    print(
        f"{'database':<11} {'seconds':>8} {'s per 1000 rows':>16} "
        f"{'migrations':>10}  passed"
    )
    for vendor in vendors:
        elapsed, report = measure(vendor, options.models, options.rows)
        per_thousand = elapsed / (options.models * options.rows / 1000)
        migrations = report["migrations"]
        assert isinstance(migrations, list)
        print(
            f"{vendor:<11} {elapsed:>8.1f} {per_thousand:>16.3f} "
            f"{len(migrations):>10}  {report['passed']}"
        )


if __name__ == "__main__":
    main()
