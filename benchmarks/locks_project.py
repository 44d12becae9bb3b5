"""The throwaway Django project of the lock benchmark, and its databases.

One app, ``bench``, holds a ``Category`` table and an ``Item`` table; every
change the benchmark measures is a new version of its ``models.py``. Two
settings modules share it: ``settings_stock`` (without syzygy, so Django's
own ``makemigrations`` and ``migrate`` run) and ``settings_syzygy`` (with
syzygy installed); each writes its migrations into a package of its own
(``MIGRATION_MODULES``), which starts from one shared initial migration.

The initial schema and its rows live in a template database; every
measurement runs on a fresh copy of it (``CREATE DATABASE ... TEMPLATE``),
so each starts from the same schema, rows, statistics and migration history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from locks_load import CATEGORIES, INSERT, SELECT, TABLE, UPDATE

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "generated" / "locks"
DATABASE = "syzygy_bench_locks"
TEMPLATE_DATABASE = "syzygy_bench_locks_template"
APP = "bench"
INITIAL = "0001_initial.py"
COMMAND_TIMEOUT = 600.0

MANAGE = """\
import sys

from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

SETTINGS = """\
import os

SECRET_KEY = "lock benchmark"
INSTALLED_APPS = {installed_apps!r}
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["LOCKS_BENCH_DATABASE"],
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
    }}
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIGRATION_MODULES = {{"bench": "bench.{package}"}}
USE_TZ = True
"""

MODELS = """\
import uuid

from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)


class Item(models.Model):
{fields}
"""

BASE_FIELDS = {
    "id": "models.BigAutoField(primary_key=True)",
    "name": "models.CharField(max_length=100)",
    # Unique values, no constraint yet.
    "code": "models.CharField(max_length=40)",
    # Nullable, but no row holds NULL.
    "value": "models.IntegerField(null=True)",
    # Ids of categories, no foreign key yet; bigint, like the key it may become.
    "category": "models.BigIntegerField(db_column='category_id')",
}

FILL = f"""\
INSERT INTO bench_category (name)
SELECT 'category ' || n FROM generate_series(1, {CATEGORIES}) AS n;
INSERT INTO bench_item (name, code, value, category_id)
SELECT 'item ' || n, 'code-' || n, n %% 1000, 1 + n %% {CATEGORIES}
FROM generate_series(1, %(rows)s) AS n;
"""

SCHEMA_QUERIES = {
    "column": """
        SELECT table_name, column_name, data_type, is_nullable,
               coalesce(column_default, '')
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name LIKE 'bench\\_%'
    """,
    "index": """
        SELECT pg_get_indexdef(index.indexrelid),
               CASE WHEN index.indisvalid THEN 'valid' ELSE 'INVALID' END
        FROM pg_index AS index
        JOIN pg_class AS indexed ON indexed.oid = index.indrelid
        WHERE indexed.relname LIKE 'bench\\_%'
    """,
    "constraint": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),
               CASE WHEN convalidated THEN 'validated' ELSE 'NOT VALIDATED' END
        FROM pg_constraint
        WHERE conrelid::regclass::text LIKE 'bench\\_%'
    """,
}


@dataclass(frozen=True)
class Change:
    """A new version of the ``Item`` model, made from the initial one."""

    key: str
    label: str
    fields: dict[str, str] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    # The INSERT of the new code, which sets the new column, if it differs.
    new_insert: str | None = None
    # The reader's SELECT and the writer's UPDATE in the new code, if they
    # differ.
    new_select: str | None = None
    new_update: str | None = None
    # The table of the model, if not Django's default.
    db_table: str | None = None
    # Fields renamed: old name, new name.
    renames: tuple[tuple[str, str], ...] = ()
    # What each variant answers makemigrations, by variant name; without
    # answers, it doesn't ask.
    answers: dict[str, str] = field(default_factory=dict)

    def models(self) -> str:
        """Return the source of ``models.py`` with this change."""
        renamed = dict(self.renames)
        lines = [
            f"    {renamed.get(name, name)} = {definition}"
            for name, definition in {**BASE_FIELDS, **self.fields}.items()
        ]
        if self.constraints or self.db_table:
            lines += ["", "    class Meta:"]
        if self.db_table:
            lines.append(f"        db_table = {self.db_table!r}")
        if self.constraints:
            lines.append("        constraints = [")
            lines += [f"            {constraint}," for constraint in self.constraints]
            lines.append("        ]")
        return MODELS.format(fields="\n".join(lines))


# The INSERT of the new code of a change that adds a column: the old one's,
# setting the column too, from one more parameter (a random number).
NEW_INSERT = (
    "INSERT INTO bench_item (name, code, value, category_id, {column}) "
    "VALUES (%s, %s, %s, %s, {value})"
)
RENAMED_TABLE = "bench_items"
INSERT_RENAMED = (
    f"INSERT INTO {TABLE} (title, code, value, category_id) VALUES (%s, %s, %s, %s)"
)
BASE = Change("initial", "initial schema")
CHANGES = (
    Change(
        "add-field",
        "add NOT NULL field",
        {"flag": "models.BooleanField(default=False)"},
        new_insert=NEW_INSERT.format(column="flag", value="%s %% 2 = 0"),
    ),
    Change(
        "add-uuid",
        "add uuid4 field",
        {"ref": "models.UUIDField(default=uuid.uuid4)"},
        new_insert=NEW_INSERT.format(column="ref", value="md5(%s::text)::uuid"),
    ),
    Change(
        "add-index",
        "add index",
        {"value": "models.IntegerField(null=True, db_index=True)"},
    ),
    Change(
        "add-unique",
        "add unique constraint",
        constraints=(
            "models.UniqueConstraint(fields=['code'], name='bench_item_code_unique')",
        ),
    ),
    Change(
        "add-foreign-key",
        "add foreign key field",
        {
            "secondary_category": (
                "models.ForeignKey(Category, models.SET_NULL, null=True, "
                "related_name='+')"
            )
        },
        new_insert=NEW_INSERT.format(
            column="secondary_category_id", value=f"1 + %s %% {CATEGORIES}"
        ),
    ),
    Change(
        "alter-to-foreign-key",
        "make column foreign key",
        {
            "category": (
                "models.ForeignKey(Category, models.PROTECT, db_column='category_id')"
            )
        },
    ),
    Change(
        "add-check",
        "add check constraint",
        constraints=(
            "models.CheckConstraint(condition=models.Q(value__gte=0), "
            "name='bench_item_value_gte_0')",
        ),
    ),
    Change(
        "set-not-null",
        "NULL -> NOT NULL",
        {"value": "models.IntegerField()"},
    ),
    Change(
        "int-to-bigint",
        "integer -> bigint",
        {"value": "models.BigIntegerField(null=True)"},
    ),
    Change(
        "rename-table",
        "rename table",
        db_table=RENAMED_TABLE,
        new_insert=INSERT.replace(f" {TABLE} ", f" {RENAMED_TABLE} "),
        new_update=UPDATE.replace(f" {TABLE} ", f" {RENAMED_TABLE} "),
        new_select=SELECT.replace(f" {TABLE} ", f" {RENAMED_TABLE} "),
    ),
    Change(
        "rename-column",
        "rename column",
        renames=(("name", "title"),),
        new_insert=INSERT_RENAMED,
        new_select=(
            f"SELECT id, title, code, value, category_id FROM {TABLE} WHERE id = %s"
        ),
        # Was the field renamed? Then syzygy's first choice: without downtime.
        answers={"stock": "y\n", "syzygy": "y\n1\n"},
    ),
)


@dataclass(frozen=True)
class Variant:
    """How a deploy migrates: stock Django, or syzygy in its two steps."""

    name: str
    settings: str
    package: str
    migrate_commands: tuple[tuple[str, ...], ...]


STOCK = Variant("stock", "settings_stock", "migrations_stock", (("migrate",),))
SYZYGY = Variant(
    "syzygy",
    "settings_syzygy",
    "migrations_syzygy",
    (("migrate", "--pre-deploy"), ("migrate",)),
)
VARIANTS = (STOCK, SYZYGY)


@dataclass
class Completed:
    """A ``manage.py`` command that ran to its end, or was killed at its timeout."""

    arguments: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    started: float
    ended: float

    @property
    def reason(self) -> str:
        """Return the first line the command printed on its error output."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[0] if lines else self.error

    @property
    def error(self) -> str:
        """Return the last line the command printed on failure."""
        lines = [
            line.strip()
            for line in (self.stderr or self.stdout).splitlines()
            if line.strip()
        ]
        last = lines[-1] if lines else "no output"
        return f"{' '.join(self.arguments)} exited with {self.returncode}: {last}"


def connection_parameters(database: str) -> dict[str, str]:
    """Return the psycopg2 parameters of ``database`` (server from PGHOST etc.)."""
    return {
        "dbname": database,
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
    }


@contextmanager
def connect(database: str) -> Iterator[psycopg2.extensions.connection]:
    """Open a connection in autocommit to ``database``; close it after the block."""
    connection = psycopg2.connect(**connection_parameters(database))
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def server_version() -> tuple[int, str]:
    """Return the server's version number and its version string."""
    with connect("postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
        return connection.server_version, version


def drop_databases() -> None:
    """Drop the benchmark's databases, closing connections left to them."""
    with connect("postgres") as connection, connection.cursor() as cursor:
        for name in (DATABASE, TEMPLATE_DATABASE):
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_template() -> None:
    """Make the benchmark database a fresh copy of the template database."""
    with connect("postgres") as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        # FILE_COPY (PostgreSQL 15+) copies the files and checkpoints: it
        # leaves no WAL behind to be flushed during the next measurement.
        strategy = " STRATEGY FILE_COPY" if connection.server_version >= 150000 else ""
        cursor.execute(
            f'CREATE DATABASE "{DATABASE}" TEMPLATE "{TEMPLATE_DATABASE}"{strategy}'
        )


def schema() -> frozenset[str]:
    """Return the columns, indexes and constraints of the benchmark tables."""
    with connect(DATABASE) as connection, connection.cursor() as cursor:
        described = set()
        for kind, query in SCHEMA_QUERIES.items():
            cursor.execute(query)
            described.update(
                f"{kind} {' '.join(map(str, row))}" for row in cursor.fetchall()
            )
        return frozenset(described)


def recorded_migrations() -> set[str]:
    """Return the names of the ``bench`` migrations recorded as applied."""
    with connect(DATABASE) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM django_migrations WHERE app = %s", [APP])
        return {name for (name,) in cursor.fetchall()}


@dataclass
class Project:
    """The throwaway Django project, written under ``directory``."""

    directory: Path

    @property
    def app(self) -> Path:
        return self.directory / APP

    def package(self, variant: Variant) -> Path:
        return self.app / variant.package

    def write(self) -> None:
        """Write the project from scratch, with the initial models."""
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.app.mkdir(parents=True)
        (self.directory / "manage.py").write_text(MANAGE)
        (self.app / "__init__.py").write_text("")
        for variant in VARIANTS:
            installed_apps = [APP] + (["syzygy"] if variant is SYZYGY else [])
            (self.directory / f"{variant.settings}.py").write_text(
                SETTINGS.format(installed_apps=installed_apps, package=variant.package)
            )
            self.package(variant).mkdir()
            (self.package(variant) / "__init__.py").write_text("")
        self.write_models(BASE)

    def write_models(self, change: Change) -> None:
        (self.app / "models.py").write_text(change.models())

    def migrations(self, variant: Variant) -> list[str]:
        """Return the names of the migration files of ``variant``."""
        return sorted(
            path.stem
            for path in self.package(variant).glob("[0-9]*.py")
            if path.is_file()
        )

    def reset_migrations(self) -> None:
        """Remove every migration but the initial one from both packages."""
        for variant in VARIANTS:
            for path in self.package(variant).glob("[0-9]*.py"):
                if path.name != INITIAL:
                    path.unlink()

    def share_initial_migration(self) -> None:
        """Give syzygy's package the initial migration written for stock Django."""
        shutil.copyfile(self.package(STOCK) / INITIAL, self.package(SYZYGY) / INITIAL)

    def keep_migrations(self, change: Change) -> None:
        """Copy the migrations written for ``change`` under ``written/``."""
        for variant in VARIANTS:
            destination = self.directory / "written" / change.key / variant.name
            if destination.exists():
                shutil.rmtree(destination)
            destination.mkdir(parents=True)
            for path in self.package(variant).glob("[0-9]*.py"):
                if path.name != INITIAL:
                    shutil.copyfile(path, destination / path.name)

    def environment(self, variant: Variant, database: str) -> dict[str, str]:
        environment = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE=variant.settings,
            LOCKS_BENCH_DATABASE=database,
            # Migration files are rewritten between changes: never let a
            # stale bytecode cache stand in for them.
            PYTHONDONTWRITEBYTECODE="1",
        )
        environment.pop("PYTHONPATH", None)
        return environment

    def start(
        self,
        variant: Variant,
        arguments: tuple[str, ...],
        database: str = DATABASE,
        interactive: bool = False,
    ) -> subprocess.Popen[str]:
        """Start ``manage.py`` with ``arguments`` and the settings of ``variant``."""
        return subprocess.Popen(
            [sys.executable, "manage.py", *arguments]
            + ([] if interactive else ["--noinput"]),
            cwd=self.directory,
            env=self.environment(variant, database),
            stdin=subprocess.PIPE if interactive else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def manage(
        self,
        variant: Variant,
        arguments: tuple[str, ...],
        database: str = DATABASE,
        answers: str | None = None,
    ) -> Completed:
        """Run ``manage.py`` with ``arguments``, answering its questions with
        ``answers`` if given; kill it at ``COMMAND_TIMEOUT``."""
        started = time.monotonic()
        process = self.start(variant, arguments, database, answers is not None)
        try:
            stdout, stderr = process.communicate(answers, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\nkilled after {COMMAND_TIMEOUT:g} s"
        return Completed(
            arguments, process.returncode, stdout, stderr, started, time.monotonic()
        )


def create_template(project: Project, rows: int) -> float:
    """Create the template database with the initial schema and ``rows`` items.

    Write the initial migration with stock Django, apply it, fill the tables
    and ``VACUUM ANALYZE`` them. Return how long it took.
    """
    started = time.monotonic()
    drop_databases()
    with connect("postgres") as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    written = project.manage(STOCK, ("makemigrations", APP))
    if written.returncode != 0 or project.migrations(STOCK) != ["0001_initial"]:
        raise SystemExit(f"Writing the initial migration failed: {written.error}")
    project.share_initial_migration()
    migrated = project.manage(STOCK, ("migrate",), TEMPLATE_DATABASE)
    if migrated.returncode != 0:
        raise SystemExit(f"Applying the initial migration failed: {migrated.error}")
    with connect(TEMPLATE_DATABASE) as connection, connection.cursor() as cursor:
        cursor.execute(FILL, {"rows": rows})
        cursor.execute("VACUUM ANALYZE bench_category, bench_item")
    return time.monotonic() - started
