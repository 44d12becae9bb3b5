"""Adopting syzygy on a project with a long history: one command."""

from __future__ import annotations

import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test.utils import override_settings

from syzygy import Stage

from .projects import manage, write_project

pytestmark = pytest.mark.django_db

SCENARIOS = "tests.migrations_scenarios"

# Written by hand before syzygy was installed: they mix stages.
MIXED = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "{previous}")]
    operations = [
        migrations.AddField("book", "{added}", models.IntegerField(null=True)),
        migrations.RemoveField("book", "{removed}"),
    ]
"""

ADD = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "{previous}")]
    operations = [
        migrations.AddField("book", "{added}", models.IntegerField(null=True)),
    ]
"""


def write_history(root: Path) -> Path:
    """Write a project whose app has four migrations, two of them mixed."""
    migrations = write_project(root)
    (migrations / "0002_book_year_remove_book_isbn.py").write_text(
        MIXED.format(previous="0001_initial", added="year", removed="isbn")
    )
    (migrations / "0003_book_rating.py").write_text(
        ADD.format(previous="0002_book_year_remove_book_isbn", added="rating")
    )
    (migrations / "0004_book_copies_remove_book_pages.py").write_text(
        MIXED.format(previous="0003_book_rating", added="copies", removed="pages")
    )
    return migrations


def test_adoption_takes_one_command(tmp_path: Path) -> None:
    """The baseline makes history of the mixed migrations: check passes and a
    fresh database migrates; a mixed migration written later still fails check."""
    migrations = write_history(tmp_path)
    check = manage(tmp_path, "check")
    assert check.returncode == 1
    assert check.stderr.count("(syzygy.E001)") == 2

    baseline = manage(tmp_path, "stagebaseline")
    assert baseline.returncode == 0, baseline.stderr
    assert baseline.stdout == (
        "# The migrations up to these ran on every database before syzygy\n"
        "# managed the deploys: they need no stage (2 of them mix stages).\n"
        "SYZYGY_STAGE_BASELINE = {\n"
        "    'library': '0004_book_copies_remove_book_pages',\n"
        "}\n"
    )
    with (tmp_path / "settings.py").open("a") as settings:
        settings.write(baseline.stdout)

    check = manage(tmp_path, "check")
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout
    migrate = manage(tmp_path, "migrate", "--pre-deploy")
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying library.0004_book_copies_remove_book_pages... OK" in (
        migrate.stdout
    )
    assert manage(tmp_path, "stagebaseline").stdout == baseline.stdout

    (migrations / "0005_book_shelf_remove_book_year.py").write_text(
        MIXED.format(
            previous="0004_book_copies_remove_book_pages",
            added="shelf",
            removed="year",
        )
    )
    check = manage(tmp_path, "check")
    assert check.returncode == 1
    assert check.stderr.count("(syzygy.E001)") == 1
    assert "library.0005_book_shelf_remove_book_year: (syzygy.E001)" in check.stderr
    pre_deploy = manage(tmp_path, "migrate", "--pre-deploy")
    assert pre_deploy.returncode == 1
    assert pre_deploy.stderr.strip().splitlines() == [
        "CommandError: Cannot automatically determine stage of "
        "library.0005_book_shelf_remove_book_year: it mixes pre-deploy and "
        "post-deploy operations."
    ]


def stagebaseline(*app_labels: str) -> str:
    stdout = StringIO()
    call_command("stagebaseline", *app_labels, stdout=stdout)
    return stdout.getvalue()


def test_baseline_of_apps_without_mixed_migrations_is_not_needed(
    use_scenario: object,
) -> None:
    with override_settings(
        MIGRATION_MODULES={"alpha": "tests.migrations_scenarios.staged.alpha"}
    ):
        assert stagebaseline() == "No migration mixes stages: no baseline is needed.\n"
        assert "'alpha': '0003_remove_author_bio'," in stagebaseline("alpha")


def test_baseline_keeps_the_baselines_it_doesnt_move() -> None:
    with override_settings(
        MIGRATION_MODULES={
            "alpha": "tests.migrations_scenarios.ambiguous.alpha",
            "beta": None,
        },
        SYZYGY_STAGE_BASELINE={"alpha": "0002_mixed"},
    ):
        assert stagebaseline().endswith(
            "they need no stage (1 of them mix stages).\n"
            "SYZYGY_STAGE_BASELINE = {\n"
            "    'alpha': '0002_mixed',\n"
            "}\n"
        )
        assert "'alpha': '0003_defined'," in stagebaseline("alpha")


@pytest.mark.parametrize(
    ("arguments", "settings", "message"),
    [
        (("gamma",), {}, "No installed app with label 'gamma'."),
        (("beta",), {}, "App 'beta' has no migrations."),
        (
            (),
            {"SYZYGY_STAGE_BASELINE": {"alpha": 1}},
            "SYZYGY_STAGE_BASELINE['alpha'] is 1; it must be the name of a "
            "migration of the app, such as '0042_alter_author_name'.",
        ),
        (
            (),
            {
                "MIGRATION_MODULES": {
                    "alpha": "tests.migrations_scenarios.conflict.alpha"
                }
            },
            "App 'alpha' has conflicting migrations",
        ),
    ],
)
def test_baseline_refuses_bad_input_in_one_line(
    arguments: tuple[str, ...], settings: dict[str, object], message: str
) -> None:
    settings = {
        "MIGRATION_MODULES": {
            "alpha": "tests.migrations_scenarios.ambiguous.alpha",
            "beta": None,
        },
        **settings,
    }
    with override_settings(**settings), pytest.raises(CommandError) as raised:
        stagebaseline(*arguments)
    assert str(raised.value).startswith(message)


def test_history_before_the_baseline_needs_no_stage_but_a_pre_deploy_plan_refuses_it(
    use_scenario: object,
) -> None:
    use_scenario("ambiguous")  # type: ignore[operator]
    call_command("migrate", "alpha", "0001", verbosity=0)
    with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0002_mixed"}):
        stdout = StringIO()
        call_command("migrate", "alpha", plan=True, stdout=stdout, no_color=True)
        assert "alpha.0002_mixed  [no stage, baseline]" in stdout.getvalue()
        with pytest.raises(CommandError) as raised:
            call_command("migrate", "alpha", pre_deploy=True, verbosity=0)
        assert str(raised.value) == textwrap.dedent(
            """\
            Cannot automatically determine stage of alpha.0002_mixed: it mixes \
pre-deploy and post-deploy operations. It needs none as history before \
SYZYGY_STAGE_BASELINE['alpha'] (0002_mixed), but applying alpha.0002_mixed is \
in the plan: this database is behind the baseline. Bring it up to the baseline \
while no code depends on its schema (`python manage.py migrate alpha \
0002_mixed`), or define an explicit `stage = syzygy.Stage.<STAGE>` on the \
Migration class (or set MIGRATION_STAGES_OVERRIDE['alpha.0002_mixed'])."""
        )
        call_command("migrate", "alpha", verbosity=0)
    # A stage of its own still wins over the baseline.
    with override_settings(
        SYZYGY_STAGE_BASELINE={"alpha": "0002_mixed"},
        MIGRATION_STAGES_OVERRIDE={"alpha.0002_mixed": Stage.POST_DEPLOY},
    ):
        stdout = StringIO()
        call_command(
            "migrate", "alpha", "0001", plan=True, stdout=stdout, no_color=True
        )
    assert "alpha.0002_mixed  [pre-deploy, reverting a post-deploy" in (
        stdout.getvalue()
    )


def test_baseline_covers_squashed_migrations_and_those_they_replace() -> None:
    """Later migrations depend on the replaced migrations, and nothing on the
    squash, as in long histories squashed several times."""
    with override_settings(
        MIGRATION_MODULES={"alpha": f"{SCENARIOS}.squashed_kept.alpha", "beta": None}
    ):
        assert [str(error.obj) for error in run_checks()] == [
            "alpha.0001_squashed_0002_mixed",
            "alpha.0002_mixed",
        ]
        output = stagebaseline()
        assert output.endswith(
            "they need no stage (2 of them mix stages).\n"
            "SYZYGY_STAGE_BASELINE = {\n"
            "    'alpha': '0003_author_nickname',\n"
            "}\n"
        )
        with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0003_author_nickname"}):
            assert run_checks() == []
