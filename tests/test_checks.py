from __future__ import annotations

import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.checks import (
    _plainly_pre_deploy,
    check_commands,
    check_migration_stages,
    check_stage_setting_keys,
)

pytestmark = pytest.mark.django_db


def scenario(case: str, app_label: str = "alpha") -> override_settings:
    module = f"tests.migrations_scenarios.{case}.{app_label}"
    return override_settings(MIGRATION_MODULES={app_label: module, "beta": None})


def test_check_reports_migrations_with_ambiguous_stage() -> None:
    with scenario("ambiguous"):
        errors = check_migration_stages(databases=["default"])
    assert len(errors) == 1
    (error,) = errors
    assert isinstance(error, Error)
    assert error.id == "syzygy.E001"
    assert str(error.obj) == "alpha.0002_mixed"
    assert error.msg == (
        "Cannot automatically determine stage of alpha.0002_mixed: it mixes "
        "pre-deploy and post-deploy operations."
    )
    assert error.hint is not None
    assert "MIGRATION_STAGES_OVERRIDE" in error.hint


def test_check_accepts_a_defined_or_configured_stage() -> None:
    with (
        scenario("ambiguous"),
        override_settings(
            MIGRATION_STAGES_FALLBACK={"alpha.0002_mixed": Stage.POST_DEPLOY}
        ),
    ):
        assert check_migration_stages(databases=["default"]) == []


def test_check_respects_app_configs() -> None:
    with scenario("ambiguous"):
        beta = apps.get_app_config("beta")
        alpha = apps.get_app_config("alpha")
        assert check_migration_stages(app_configs=[beta], databases=["default"]) == []
        assert (
            len(check_migration_stages(app_configs=[alpha], databases=["default"])) == 1
        )


def test_check_tolerates_empty_and_missing_migration_packages() -> None:
    with scenario("empty_package"):
        assert check_migration_stages(databases=["default"]) == []
    with override_settings(
        MIGRATION_MODULES={"alpha": "tests.migrations_scenarios.nowhere"}
    ):
        assert check_migration_stages(databases=["default"]) == []
    with override_settings(MIGRATION_MODULES={"alpha": "tests.migrations_scenarios"}):
        # A package of packages, no migration modules.
        assert check_migration_stages(databases=["default"]) == []
    with override_settings(MIGRATION_MODULES={"alpha": None}):
        assert check_migration_stages(databases=["default"]) == []
    with scenario("namespace"):
        # A directory without __init__.py, as left by switching branches.
        assert check_migration_stages(databases=["default"]) == []
    with override_settings(MIGRATION_MODULES={"alpha": "tests.catalogue"}):
        assert check_migration_stages(databases=["default"]) == []


def test_check_leaves_modules_without_migration_to_django() -> None:
    with scenario("broken"):
        errors = check_migration_stages(databases=["default"])
    assert [str(error.obj) for error in errors] == ["alpha.0002_mixed"]


def test_plain_check_command_fails_on_ambiguous_stage() -> None:
    """As in django-syzygy 1.x: the CI check of its users."""
    with scenario("ambiguous"):
        assert [error.id for error in run_checks()] == ["syzygy.E001"]
        with pytest.raises(SystemCheckError, match=r"syzygy\.E001"):
            call_command("check")


@pytest.mark.parametrize("silenced", ["syzygy.E001", "migrations.0001"])
def test_check_is_silenced_by_its_id_and_the_legacy_id(silenced: str) -> None:
    stdout = StringIO()
    with scenario("ambiguous"), override_settings(SILENCED_SYSTEM_CHECKS=[silenced]):
        call_command("check", "--database", "default", stdout=stdout)
    assert "System check identified no issues" in stdout.getvalue()


def test_check_database_command_fails_on_ambiguous_stage() -> None:
    with scenario("ambiguous"), pytest.raises(SystemCheckError, match=r"syzygy\.E001"):
        call_command("check", "--database", "default")


def test_migrate_applies_a_whole_plan_without_stages(
    use_scenario: Callable[[str], None],
) -> None:
    """A whole plan needs no stage: migrate's own checks leave syzygy.E001 to
    the plan, which raises only for a pre-deploy plan that holds it."""
    use_scenario("ambiguous")
    call_command("migrate", "alpha", "0001", skip_checks=False, verbosity=0)
    with pytest.raises(CommandError, match=r"stage of alpha\.0002_mixed"):
        call_command("migrate", "alpha", pre_deploy=True, skip_checks=False)
    call_command("migrate", "alpha", skip_checks=False, verbosity=0)
    recorder = MigrationRecorder(connection)
    assert ("alpha", "0002_mixed") in recorder.applied_migrations()
    # Checks run outside of migrate still report it.
    assert [error.id for error in run_checks()] == ["syzygy.E001"]


def test_check_runs_under_the_legacy_migrations_tag() -> None:
    with scenario("ambiguous"), pytest.raises(SystemCheckError, match=r"syzygy\.E001"):
        call_command("check", "--tag", "migrations", "--database", "default")


def test_stage_setting_keys_that_name_nothing_are_reported() -> None:
    with (
        scenario("staged"),
        override_settings(
            MIGRATION_STAGES_OVERRIDE={
                "alpha.0002_author_rating": Stage.POST_DEPLOY,
                "alpha.0002": Stage.POST_DEPLOY,
                "alpah": Stage.PRE_DEPLOY,
            },
            MIGRATION_STAGES_FALLBACK={
                "beta": Stage.PRE_DEPLOY,
                "beta.0001_initial": "PRE_DEPLOY",
            },
        ),
    ):
        warnings = check_stage_setting_keys()
        assert [warning.msg for warning in warnings] == [
            "MIGRATION_STAGES_OVERRIDE has the key 'alpha.0002', but app 'alpha' has "
            "no migration named '0002'.",
            "MIGRATION_STAGES_OVERRIDE has the key 'alpah', but no installed app has "
            "the label 'alpah'.",
            # beta's migrations are disabled in this scenario.
            "MIGRATION_STAGES_FALLBACK has the key 'beta.0001_initial', but app "
            "'beta' has no migration named '0001_initial'.",
        ]
        assert {warning.id for warning in warnings} == {"syzygy.W001"}
        # Only the apps asked for, but unknown apps always.
        beta = apps.get_app_config("beta")
        assert [w.msg for w in check_stage_setting_keys(app_configs=[beta])] == [
            warnings[1].msg,
            warnings[2].msg,
        ]
        # Plain manage.py check runs it.
        with pytest.raises(SystemCheckError, match=r"syzygy\.W001"):
            call_command("check", "--fail-level", "WARNING")


@pytest.mark.parametrize(
    "module", ["tests.migrations_scenarios.nowhere", "tests.catalogue"]
)
def test_stage_setting_keys_of_apps_without_a_migrations_package(module: str) -> None:
    with override_settings(
        MIGRATION_MODULES={"alpha": module},
        MIGRATION_STAGES_OVERRIDE={"alpha.0001_initial": Stage.PRE_DEPLOY},
    ):
        (warning,) = check_stage_setting_keys()
    assert "app 'alpha' has no migration named '0001_initial'" in warning.msg


def test_migrations_up_to_the_baseline_need_no_stage() -> None:
    with scenario("ambiguous"):
        assert [str(error.obj) for error in check_migration_stages()] == [
            "alpha.0002_mixed"
        ]
        with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0002_mixed"}):
            assert check_migration_stages() == []
        # A baseline before it, or naming no migration, leaves it reported.
        for baseline in ("0001_initial", "0002"):
            with override_settings(SYZYGY_STAGE_BASELINE={"alpha": baseline}):
                assert len(check_migration_stages()) == 1


def test_baseline_history_goes_through_squashed_migrations() -> None:
    with scenario("squashed_history"):
        assert [str(error.obj) for error in check_migration_stages()] == [
            "alpha.0001_squashed_0002_mixed"
        ]
        with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0003_author_rating"}):
            assert check_migration_stages() == []
            assert check_stage_setting_keys() == []
        with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0002_mixed"}):
            (warning,) = check_stage_setting_keys()
    assert warning.msg == (
        "SYZYGY_STAGE_BASELINE['alpha'] is '0002_mixed', but app 'alpha' has no "
        "migration named '0002_mixed'."
    )


def test_stage_checks_leave_invalid_settings_to_syzygy_e003() -> None:
    with scenario("ambiguous"), override_settings(MIGRATION_STAGES_FALLBACK=[]):
        assert check_migration_stages() == []
        assert check_stage_setting_keys() == []
        assert [error.id for error in run_checks()] == ["syzygy.E003"]


def test_commands_of_another_app_that_hide_syzygys_are_reported() -> None:
    assert check_commands() == []
    with override_settings(
        INSTALLED_APPS=["tests.overriding", *settings.INSTALLED_APPS]
    ):
        warnings = check_commands()
    # Its makemigrations combines syzygy's with its own.
    assert [(warning.id, warning.msg) for warning in warnings] == [
        (
            "syzygy.W010",
            "The migrate command is the one of tests.overriding, which doesn't "
            "extend syzygy's: `migrate` runs without syzygy.",
        )
    ]
    assert warnings[0].hint == (
        "Put 'syzygy' before 'tests.overriding' in INSTALLED_APPS, or, to keep "
        "both, write a migrate command that combines them (syzygy's is "
        "syzygy.management.commands.migrate.Command)."
    )


def test_migrations_plainly_pre_deploy_are_decided_without_importing_them() -> None:
    package = "tests.migrations_scenarios.screened.alpha"
    for name in [name for name in sys.modules if name.startswith(f"{package}.")]:
        del sys.modules[name]
    with scenario("screened"):
        assert [str(error.obj) for error in check_migration_stages()] == [
            "alpha.0002_author_rating_drop_bio",
            "alpha.0004_author_code_remove_author_city",
        ]
        imported = {name for name in sys.modules if name.startswith(f"{package}.")}
        assert imported == {
            f"{package}.0002_author_rating_drop_bio",
            f"{package}.0004_author_code_remove_author_city",
        }
        # Walking back from a baseline needs them all.
        with override_settings(SYZYGY_STAGE_BASELINE={"alpha": "0003_author_nickname"}):
            assert [str(error.obj) for error in check_migration_stages()] == [
                "alpha.0004_author_code_remove_author_city"
            ]
        assert f"{package}.0001_initial" in sys.modules


HEADER = "from django.db import migrations, models\n"


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        (HEADER, True),
        ("from __future__ import annotations\nimport django.db.models as m\n", True),
        ("from django.db import (\n    migrations,\n    models,\n)\n", True),
        (HEADER + "from django_extensions.db import fields\n", False),
        (HEADER + "import django.db.models, tests.ops\n", False),
        (HEADER + "from . import operations\n", False),
        (HEADER + "from django.db import migrations; import tests.ops\n", False),
        (HEADER + "ops = __import__('tests.ops')\n", False),
        (HEADER + "# import nothing else\n", False),
        (HEADER + "operations = [migrations.DeleteModel('Author')]\n", False),
        (HEADER + "stage = None\n", False),
    ],
)
def test_only_django_imports_and_no_removal_make_a_migration_plainly_pre_deploy(
    tmp_path: Path, source: str, plain: bool
) -> None:
    path = tmp_path / "0002_migration.py"
    path.write_text(source)
    assert _plainly_pre_deploy(str(path)) is plain
    assert _plainly_pre_deploy(str(tmp_path / "missing.py")) is False
