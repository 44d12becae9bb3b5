from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from syzygy.rehearsal import scratch as scratch_module
from syzygy.rehearsal import traffic

from .catalogue import table_columns, table_names
from .projects import database_settings, manage, snapshot

Scenario = Callable[[str], None]

ON_POSTGRESQL = settings.DATABASE == "postgresql"

# The models of the throwaway project: the code deployed now.
MODELS = """\
import uuid

from django.db import models


class Shelf(models.Model):
    name = models.CharField(max_length=30)


class Book(models.Model):
    title = models.CharField(max_length=100)
    isbn = models.CharField(max_length=13, null=True)
    pages = models.IntegerField(null=True)
    cover = models.CharField(max_length=10, default="paper")
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)


class Loan(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    borrower = models.CharField(max_length=50)
"""
NEW_FIELD = "    shelf = models.ForeignKey"

# Each change of the models, as a release makes it.
CHANGES: dict[str, Callable[[str], str]] = {
    "add_not_null_field_with_default": lambda models: models.replace(
        NEW_FIELD, "    edition = models.IntegerField(default=1)\n" + NEW_FIELD
    ),
    "remove_not_null_field": lambda models: models.replace(
        "    title = models.CharField(max_length=100)\n", ""
    ),
    "remove_field_with_default": lambda models: models.replace(
        '    cover = models.CharField(max_length=10, default="paper")\n', ""
    ),
    "delete_model": lambda models: models.split("\n\nclass Loan")[0],
    "add_uuid_field": lambda models: models.replace(
        NEW_FIELD, "    uid = models.UUIDField(default=uuid.uuid4)\n" + NEW_FIELD
    ),
    "add_nullable_field": lambda models: models.replace(
        NEW_FIELD,
        "    subtitle = models.CharField(max_length=50, null=True)\n" + NEW_FIELD,
    ),
    "add_model": lambda models: (
        models + "\n\nclass Author(models.Model):\n"
        "    name = models.CharField(max_length=50)\n"
    ),
    "widen_char_field": lambda models: models.replace(
        "max_length=100", "max_length=200"
    ),
}

# What breaks a rolling deploy when stock makemigrations writes the change:
# (side, model, operation, step, migration) of one of the failing queries.
STOCK_BREAKS = {
    "add_not_null_field_with_default": (
        "old",
        "library.Book",
        "create",
        "pre-deploy",
        "library.0002_book_edition",
    ),
    "remove_not_null_field": (
        "new",
        "library.Book",
        "create",
        "rollout",
        "library.0002_remove_book_title",
    ),
    "remove_field_with_default": (
        "new",
        "library.Book",
        "create",
        "rollout",
        "library.0002_remove_book_cover",
    ),
    # New code deletes books the old table of loans still refers to.
    "delete_model": (
        "new",
        "library.Book",
        "delete",
        "rollout",
        "library.0002_delete_loan",
    ),
    "add_uuid_field": (
        "old",
        "library.Book",
        "create",
        "pre-deploy",
        "library.0002_book_uid",
    ),
}
SAFE = ("add_nullable_field", "add_model", "widen_char_field")

DROP_PAGES = """\
from django.db import migrations

from syzygy import Stage


class Migration(migrations.Migration):
    stage = Stage.PRE_DEPLOY
    dependencies = [("library", "0001_initial")]

    operations = [migrations.RunSQL("ALTER TABLE library_book DROP COLUMN pages")]
"""


class Project:
    """A throwaway project with the app ``library``, on the database server
    of the test run, whose initial migration is applied."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.database = f"{settings.PREFIX}_project_{uuid.uuid4().hex[:8]}"
        self.temporary = root / "tmp"
        self.temporary.mkdir()
        (root / "settings.py").write_text(
            'SECRET_KEY = "throwaway"\n'
            "USE_TZ = True\n"
            'DEFAULT_AUTO_FIELD = "django.db.models.AutoField"\n'
            'INSTALLED_APPS = ["syzygy", "library"]\n'
            + database_settings(self.database)
        )
        self.migrations = root / "library" / "migrations"
        self.migrations.mkdir(parents=True)
        (root / "library" / "__init__.py").write_text("")
        (self.migrations / "__init__.py").write_text("")
        self.models = root / "library" / "models.py"
        self.models.write_text(MODELS)

    def manage(self, *args: str) -> Any:
        # Temporary files (a scratch SQLite database) go where the test sees them.
        return manage(self.root, *args, environment={"TMPDIR": str(self.temporary)})

    def run(self, *args: str) -> str:
        result = self.manage(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return str(result.stdout)

    def scratch_databases(self) -> list[str]:
        """Return the scratch databases a rehearsal left behind."""
        if not ON_POSTGRESQL:
            return [path.name for path in self.temporary.iterdir()]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                [f"{self.database}_rehearsal_%"],
            )
            return [name for (name,) in cursor.fetchall()]


@pytest.fixture
def project(tmp_path: Path, transactional_db: None) -> Iterator[Project]:
    """A project with its initial migration written and applied."""
    project = Project(tmp_path)
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{project.database}"')
    try:
        project.run("makemigrations", "library", "--name", "initial")
        project.run("migrate", "--verbosity", "0")
        yield project
    finally:
        if ON_POSTGRESQL:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{project.database}"')


def rehearse(project: Project) -> tuple[int, dict[str, Any]]:
    """Rehearse the project's release; return the exit status and the report,
    having checked that the project's database is as it was."""
    before = snapshot(project.root)
    result = project.manage("rehearse", "--format", "json", "--rows", "20")
    assert result.returncode in (0, 1), result.stderr
    assert snapshot(project.root) == before
    assert project.scratch_databases() == []
    return result.returncode, json.loads(result.stdout)


def failing(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            query["side"],
            query["model"],
            query["operation"],
            query["step"],
            query["migration"],
        )
        for query in report["failures"]
    ]


@pytest.mark.parametrize("change", sorted(STOCK_BREAKS))
def test_rehearse_names_the_migration_of_a_stock_change_that_breaks_a_deploy(
    project: Project, change: str
) -> None:
    project.models.write_text(CHANGES[change](MODELS))
    project.run("makemigrations", "library", "--disable-syzygy", "--noinput")
    status, report = rehearse(project)
    assert status == 1
    assert report["passed"] is False
    assert STOCK_BREAKS[change] in failing(report)


@pytest.mark.parametrize(
    "change",
    [*SAFE, *sorted(STOCK_BREAKS)],
)
def test_rehearse_passes_syzygys_migrations_of_every_change(
    project: Project, change: str
) -> None:
    project.models.write_text(CHANGES[change](MODELS))
    project.run("makemigrations", "library", "--noinput")
    status, report = rehearse(project)
    assert failing(report) == []
    assert status == 0


@pytest.mark.parametrize("change", SAFE)
def test_rehearse_passes_a_safe_stock_change(project: Project, change: str) -> None:
    project.models.write_text(CHANGES[change](MODELS))
    project.run("makemigrations", "library", "--disable-syzygy", "--noinput")
    status, report = rehearse(project)
    assert failing(report) == []
    assert status == 0
    assert [step["stage"] for step in report["migrations"]] == ["pre-deploy"]


def test_rehearse_catches_a_pre_deploy_run_sql_dropping_a_used_column(
    project: Project,
) -> None:
    (project.migrations / "0002_drop_pages.py").write_text(DROP_PAGES)
    status, report = rehearse(project)
    assert status == 1
    assert (
        "old",
        "library.Book",
        "read",
        "pre-deploy",
        "library.0002_drop_pages",
    ) in failing(report)
    text = project.manage("rehearse", "--rows", "5")
    assert text.returncode == 1
    assert "library.0002_drop_pages  pre-deploy" in text.stdout
    assert "old library.Book read since library.0002_drop_pages (pre-deploy)" in (
        text.stdout
    )


def test_rehearse_drops_the_scratch_database_on_ctrl_c(project: Project) -> None:
    (project.migrations / "0002_drop_pages.py").write_text(DROP_PAGES)
    before = snapshot(project.root)
    rehearsal = subprocess.Popen(
        [sys.executable, "-m", "django", "rehearse", "--rows", "1000000"],
        cwd=project.root,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "settings",
            "PYTHONPATH": str(project.root),
            "TMPDIR": str(project.temporary),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a shell's background jobs ignore SIGINT, and
        # Python then never turns it into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # Seeding a million rows per model outlasts this wait by far. On
        # SQLite, the file, not its directory: it exists once the rehearsal
        # is under way.
        while rehearsal.poll() is None and not (
            list(project.temporary.glob("*/rehearsal.sqlite3"))
            if not ON_POSTGRESQL
            else project.scratch_databases()
        ):
            time.sleep(0.05)
        rehearsal.send_signal(signal.SIGINT)
        _, stderr = rehearsal.communicate(timeout=120)
    finally:
        rehearsal.kill()
    assert rehearsal.returncode == 130, stderr
    assert "Interrupted: the scratch database was dropped." in stderr
    assert "Traceback" not in stderr
    assert project.scratch_databases() == []
    assert snapshot(project.root) == before


def rehearse_in_process(*args: str, **options: Any) -> tuple[int, str]:
    stdout = StringIO()
    try:
        call_command("rehearse", *args, stdout=stdout, no_color=True, **options)
    except SystemExit as exit:
        return int(exit.code or 0), stdout.getvalue()
    return 0, stdout.getvalue()


def project_database() -> tuple[list[str], dict[str, list[str]], list[tuple[str, str]]]:
    from django.db.migrations.recorder import MigrationRecorder

    tables = sorted(table_names())
    return (
        tables,
        {table: sorted(table_columns(table)) for table in tables},
        sorted(MigrationRecorder(connection).applied_migrations()),
    )


def test_rehearse_reports_each_step_of_the_deploy(use_scenario: Scenario) -> None:
    use_scenario("rehearsal")
    call_command("migrate", "alpha", "0001", verbosity=0)
    before = project_database()
    aliases = list(connections)
    status, output = rehearse_in_process("--format", "json", "--rows", "10")
    assert project_database() == before
    assert list(connections) == aliases
    assert status == 1
    report = json.loads(output)
    found = failing(report)
    assert (
        "old",
        "alpha.Book",
        "create",
        "pre-deploy",
        "alpha.0002_book_edition",
    ) in found
    assert (
        "new",
        "alpha.Book",
        "create",
        "rollout",
        "alpha.0003_remove_book_pages",
    ) in found
    assert (
        "new",
        "alpha.Tag",
        "read",
        "post-deploy",
        "alpha.0004_drop_tag_note",
    ) in found
    assert [(step["migration"], step["stage"]) for step in report["migrations"]] == [
        ("alpha.0002_book_edition", "pre-deploy"),
        ("alpha.0003_remove_book_pages", "post-deploy"),
        ("alpha.0004_drop_tag_note", "post-deploy"),
    ]
    if ON_POSTGRESQL:
        assert all(step["stall"] is not None for step in report["migrations"])
    else:
        assert all(step["stall"] is None for step in report["migrations"])
    assert report["rollout_failures"] >= 1
    not_rehearsed = {
        (failure["side"], failure["model"], failure["operation"])
        for failure in report["not_rehearsed"]
    }
    assert ("old", "alpha.Gadget", "create") in not_rehearsed
    notes = "\n".join(report["notes"])
    assert "alpha.Gadget is not seeded" in notes
    assert "alpha.Egg is not seeded: alpha.Egg.chicken requires a alpha.Chicken" in (
        notes
    )
    assert "The old models of alpha.Odd did no traffic: no value can be generated" in (
        notes
    )
    assert "require each other" in notes
    models = {failure["model"] for failure in report["failures"]}
    assert not models & {"alpha.Legacy", "alpha.SpecialShelf"}


def test_rehearse_prints_a_table_and_the_failing_queries(
    use_scenario: Scenario,
) -> None:
    use_scenario("rehearsal")
    call_command("migrate", "alpha", "0001", verbosity=0)
    status, output = rehearse_in_process("--rows", "3")
    assert status == 1
    lines = output.splitlines()
    assert lines[0].startswith("Deploy rehearsed on a scratch database for 'default'")
    assert "1 migration deployed" not in lines[0]
    table = [line.split()[:2] for line in lines if line.startswith("  alpha.0")]
    assert table == [
        ["alpha.0002_book_edition", "pre-deploy"],
        ["alpha.0003_remove_book_pages", "post-deploy"],
        ["alpha.0004_drop_tag_note", "post-deploy"],
    ]
    rollout = lines.index(next(line for line in lines if "(rollout)" in line))
    assert "alpha.0002_book_edition" in lines[rollout - 1]
    assert "Not rehearsed (these queries already fail" in output
    assert (
        "  new alpha.Book create at the rollout (needs alpha.0003_remove_book_pages): "
        "IntegrityError" in output
    )
    assert "  new alpha.Tag read since alpha.0004_drop_tag_note (post-deploy): " in (
        output
    )
    assert "queries failed." in lines[-1]


def test_rehearse_passes_when_no_query_fails(use_scenario: Scenario) -> None:
    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", "0001", verbosity=0)
    status, output = rehearse_in_process("--rows", "2")
    assert status == 0
    assert "alpha.0002_book_subtitle  pre-deploy" in output
    assert "(rollout)" in output
    assert output.splitlines()[-1] == "No query failed."


@pytest.mark.django_db(transaction=True, databases=["default", "second"])
def test_rehearse_takes_the_deployed_migrations_from_the_database_option(
    use_scenario: Scenario,
) -> None:
    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", database="default", verbosity=0)
    call_command("migrate", "alpha", "0001", database="second", verbosity=0)
    status, output = rehearse_in_process(
        "--database", "second", "--format", "json", "--rows", "2"
    )
    report = json.loads(output)
    assert status == 0
    assert report["database"] == "second"
    assert [step["migration"] for step in report["migrations"]] == [
        "alpha.0002_book_subtitle"
    ]


def test_rehearse_has_nothing_to_do_when_every_migration_is_applied(
    use_scenario: Scenario,
) -> None:
    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", verbosity=0)
    status, output = rehearse_in_process(skip_checks=False)
    assert status == 0
    assert "there is nothing to rehearse" in output
    assert "Migration" not in output


def test_rehearse_without_deployed_migrations_rehearses_the_release_alone(
    use_scenario: Scenario, unrecorded_database: None
) -> None:
    use_scenario("rehearsal_applied")
    status, output = rehearse_in_process("--format", "json", "--rows", "2")
    report = json.loads(output)
    assert status == 0
    assert report["deployed_migrations"] == 0
    assert "there is no deployed code" in " ".join(report["notes"])
    # With nothing recorded, migrate --pre-deploy applies the whole plan.
    assert {step["stage"] for step in report["migrations"]} == {"pre-deploy"}


def test_rehearse_stops_when_a_migration_fails_to_apply(
    use_scenario: Scenario,
) -> None:
    use_scenario("rehearsal_broken")
    call_command("migrate", "alpha", "0001", verbosity=0)
    before = project_database()
    aliases = list(connections)
    with pytest.raises(CommandError, match=r"^Applying alpha\.0002_broken") as error:
        call_command("rehearse", rows=1)
    assert error.value.returncode == 2
    assert "failed on the scratch database" in str(error.value)
    assert project_database() == before
    assert list(connections) == aliases


def test_rehearse_stops_when_the_pre_deploy_plan_is_ambiguous(
    use_scenario: Scenario,
) -> None:
    use_scenario("ambiguous")
    call_command("migrate", "alpha", "0001", verbosity=0)
    with pytest.raises(CommandError, match=r"^The pre-deploy migrate failed") as error:
        call_command("rehearse", rows=1)
    assert error.value.returncode == 2


def test_rehearse_drops_the_scratch_database_when_interrupted(
    use_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", "0001", verbosity=0)
    made: list[str] = []
    create = scratch_module.create_database

    def remember(scratch: Any) -> str:
        made.append(scratch.settings_dict["TEST"]["NAME"])
        return create(scratch)

    def interrupted(side: traffic.Side) -> list[traffic.Failure]:
        raise KeyboardInterrupt

    monkeypatch.setattr(scratch_module, "create_database", remember)
    monkeypatch.setattr(traffic.Side, "round", interrupted)
    aliases = list(connections)
    stderr = StringIO()
    with pytest.raises(SystemExit) as exit:
        call_command("rehearse", rows=1, stderr=stderr)
    assert exit.value.code == 130
    assert "Interrupted: the scratch database was dropped." in stderr.getvalue()
    assert list(connections) == aliases
    [name] = made
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            assert cursor.fetchone() is None
    else:
        assert not os.path.exists(name)
        assert not os.path.exists(os.path.dirname(name))


def test_rehearse_says_when_the_scratch_database_cant_be_made(
    use_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", "0001", verbosity=0)

    def refused(scratch: Any) -> str:
        # What Django's test database creation does once it logged an error.
        raise SystemExit(2)

    monkeypatch.setattr(scratch_module, "create_database", refused)
    aliases = list(connections)
    with pytest.raises(CommandError, match="could not be created") as error:
        call_command("rehearse", rows=1)
    assert error.value.returncode == 2
    assert list(connections) == aliases


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"database": "nowhere"}, "--database must be one of default, "),
        ({"format": "xml"}, "--format must be one of text, json, not 'xml'."),
        ({"rows": -1}, "--rows must be a whole number, at least 0, not -1."),
        ({"rows": True}, "--rows must be a whole number, at least 0, not True."),
        ({"seed": "1"}, "--seed must be a whole number, at least 0, not '1'."),
    ],
)
def test_rehearse_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("rehearse", **options)
    assert message in str(error.value)
    assert error.value.returncode == 2


def test_rehearse_parses_rows_as_a_whole_number() -> None:
    with pytest.raises(CommandError, match="argument --rows: must be a whole number"):
        call_command("rehearse", "--rows=many")


def test_rehearse_names_the_migration_of_a_rollout_failure_when_one_is_known() -> None:
    from syzygy.management.commands.rehearse import Command
    from syzygy.rehearsal.report import FailingQuery, Report

    report = Report("default", "sqlite", 10, deployed=2)
    report.failures = [
        FailingQuery(
            traffic.Failure("old", "alpha.Book", "delete", "IntegrityError", "FK"),
            "rollout",
            "alpha.0002_review",
        ),
        FailingQuery(
            traffic.Failure("new", "alpha.Book", "read", "ProgrammingError", "no"),
            "rollout",
            None,
        ),
    ]
    stdout = StringIO()
    Command(stdout=stdout, no_color=True)._write(report)
    output = stdout.getvalue()
    assert "old alpha.Book delete at the rollout (after alpha.0002_review): " in output
    assert "new alpha.Book read at the rollout: ProgrammingError: no" in output
    assert output.splitlines()[-1] == "2 queries failed."


def test_rehearsal_blames_no_migration_that_leaves_the_model_alone() -> None:
    from django.db import migrations, models

    from syzygy.rehearsal import _touching

    other = migrations.Migration("0002_other", "beta")
    other.operations = [migrations.DeleteModel("Book")]
    unrelated = migrations.Migration("0002_unrelated", "alpha")
    unrelated.operations = [
        migrations.AddField("shelf", "rank", models.IntegerField(null=True))
    ]
    assert _touching([other, unrelated], "alpha.Book") is None


def test_rehearsal_ignores_the_rendering_steps_of_migrate() -> None:
    from syzygy.rehearsal import _RehearsalMigrate

    command = _RehearsalMigrate(None, "pre-deploy", None)  # type: ignore[arg-type]
    command.verbosity = 0
    command.migration_progress_callback("render_start")
    assert command.applying is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rows", "many"], "argument --rows: must be a whole number, at least 0, "),
        (["--rows", "-3"], "argument --rows: must be a whole number, at least 0, "),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
    ],
)
def test_rehearse_parses_options_without_a_traceback(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "settings.py").write_text(
        'SECRET_KEY = "x"\nINSTALLED_APPS = ["syzygy"]\n'
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
        '"NAME": "db.sqlite3"}}\n'
    )
    result = manage(tmp_path, "rehearse", *arguments)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_rehearse_keeps_a_data_migration_writing_to_default_off_the_project(
    use_scenario: Scenario,
) -> None:
    use_scenario("rehearsal_data")
    call_command("migrate", "alpha", "0001", verbosity=0)
    before = project_database()

    status, output = rehearse_in_process("--format", "json", "--rows", "5")

    report = json.loads(output)
    assert (status, failing(report)) == (0, [])
    # The row went to the scratch database, where the migration ran.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM alpha_author")
        assert cursor.fetchone() == (0,)
    assert project_database() == before
    notes = "\n".join(report["notes"])
    # A child of multi-table inheritance is seeded and used, without the
    # bulk create Django refuses it; a field refusing values is noted.
    assert "alpha.Writer" not in notes
    assert "alpha.Stamp is not seeded: this field takes no value" in notes
    assert "The old models of alpha.Stamp did no traffic: " in notes
    assert "ValueError: this field takes no value the rehearsal makes." in notes


@pytest.mark.skipif(not ON_POSTGRESQL, reason="sessions of PostgreSQL")
def test_rehearse_drops_the_scratch_database_a_session_was_left_open_on(
    use_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.utils import load_backend

    use_scenario("rehearsal_applied")
    call_command("migrate", "alpha", "0001", verbosity=0)
    left_open: list[Any] = []

    def interrupted(side: traffic.Side) -> list[traffic.Failure]:
        # As a connection an interrupt cut short while it was made.
        settings_dict = side.scratch.settings
        leak = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
            settings_dict, "leak"
        )
        leak.ensure_connection()
        left_open.append(leak)
        raise KeyboardInterrupt

    monkeypatch.setattr(traffic.Side, "round", interrupted)
    with pytest.raises(SystemExit) as exit:
        call_command("rehearse", rows=1, stderr=StringIO())

    assert exit.value.code == 130
    [leak] = left_open
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s",
            [leak.settings_dict["NAME"]],
        )
        assert cursor.fetchone() is None
