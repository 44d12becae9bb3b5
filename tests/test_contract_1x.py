"""The contract of django-syzygy 1.x, checked against this package.

syzygy is a drop-in replacement for django-syzygy 1.x: every behaviour that
django-syzygy 1.2.3's README or its own test suite (``tests/test_*.py`` of
its sdist) documents must hold here. Each test keeps one of them, and its
docstring cites the README sentence or the 1.x test it comes from.
Behaviours that ``docs/upgrading.rst`` documents as deliberately changed are
checked as changed, citing it.

The migrations 1.x's tests ran on aren't in its sdist; those of
``tests/migrations_scenarios/contract_1x/`` reproduce them, and
``tests/migrations_scenarios/legacy_1x/`` holds migration files as 1.x's
``makemigrations`` wrote them. The quorum tests need Redis (``REDIS_URL``):
this package refuses the local-memory cache for ``CacheQuorum``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from io import StringIO
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.core.management.commands.makemigrations import (
    Command as DjangoMakemigrations,
)
from django.db import IntegrityError, connection, connections, migrations, models
from django.db.migrations import Migration
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.optimizer import MigrationOptimizer
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter, OperationWriter
from django.test.utils import override_settings

import syzygy
import syzygy.constants
import syzygy.exceptions
from syzygy import AmbiguousPlan, AmbiguousStage, Stage
from syzygy import operations as syzygy_operations
from syzygy.plan import migration_stage, partition_operations
from syzygy.quorum import (
    QuorumDisolved,
    QuorumDissolved,
    join_quorum,
    plan_namespace,
    poll_quorum,
    sever_quorum,
)

from .catalogue import table_columns, table_names
from .makemigrations_harness import Case, makemigrations_case
from .quorum_support import require_redis

Scenario = Callable[[str], None]
PRE_DEPLOY, POST_DEPLOY = Stage.PRE_DEPLOY, Stage.POST_DEPLOY
CONTRACT_CASES = "tests.migrations_scenarios.contract_1x"
CACHE_QUORUM = "syzygy.quorum.backends.cache.CacheQuorum"
# The waiting parties' error when the applying one fails, word for word 1.x's.
REMOTE_FAILURE = "Error encountered by remote party while applying migration, aborting."
POSTPONED = "Postponed until after the deploy:"
# Long enough never to expire in a passing test.
PATIENCE = 60.0


def migrate(*args: str, **options: Any) -> str:
    """Run ``migrate``; return its stdout (its stderr is dropped unless given)."""
    stdout = StringIO()
    options.setdefault("stderr", StringIO())
    call_command("migrate", *args, stdout=stdout, no_color=True, **options)
    return stdout.getvalue()


def planned(output: str) -> str:
    """Return what ``migrate`` plans to apply, without the postponed part.

    1.x printed only the planned migrations; this package lists the postponed
    ones after them, under their own heading.
    """
    return output.split(POSTPONED)[0]


def applied(app_label: str = "alpha") -> list[str]:
    recorder = MigrationRecorder(connection)
    return sorted(
        name for app, name in recorder.applied_migrations() if app == app_label
    )


def times_recorded(name: str, app_label: str = "alpha") -> int:
    recorder = MigrationRecorder(connection)
    return recorder.migration_qs.filter(app=app_label, name=name).count()


def fetch(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def logged() -> list[str]:
    """Return the steps of the ``functional`` scenario that ran, in order."""
    return [
        migration
        for (migration,) in fetch("SELECT migration FROM alpha_applylog ORDER BY id")
    ]


def assert_migrations_are_recorded() -> None:
    """1.x's tests ran ``migrate --pre-deploy`` on a fresh database. On a
    database where no migration was ever recorded this package applies the
    whole plan (docs/upgrading.rst), so these tests run on the test
    database, where the migrations of contenttypes and auth are recorded."""
    assert MigrationRecorder(connection).applied_migrations()


def make_migration(
    *operations: Operation, stage: Stage | None = None, name: str = "migration"
) -> Migration:
    migration = Migration(name, "alpha")
    migration.operations = list(operations)
    if stage is not None:
        migration.stage = stage  # type: ignore[attr-defined]
    return migration


def stage_of(*operations: Operation) -> Stage | None:
    return migration_stage(make_migration(*operations)).stage


def with_stage(operation: Operation, stage: Stage) -> Operation:
    operation.stage = stage  # type: ignore[attr-defined]
    return operation


# The public API


def test_stage_is_importable_from_syzygy_and_syzygy_constants() -> None:
    """1.x README: ``from syzygy import Stage``; 1.x tests import
    ``syzygy.constants.Stage``. docs/upgrading.rst: "the same enum, with the
    same values"."""
    assert syzygy.Stage is syzygy.constants.Stage
    assert [(stage.name, stage.value) for stage in Stage] == [
        ("PRE_DEPLOY", "pre_deploy"),
        ("POST_DEPLOY", "post_deployment"),
    ]


@pytest.mark.parametrize("stage", list(Stage), ids=lambda stage: stage.name)
def test_stage_is_serialized_as_1x_migration_files_spell_it(stage: Stage) -> None:
    """1.x migration files hold ``stage=syzygy.constants.Stage["POST_DEPLOY"]``
    (tests/migrations_scenarios/legacy_1x/alpha/0006_alter_author_bio.py)."""
    serialized, imports = MigrationWriter.serialize(stage)
    assert serialized == f"syzygy.constants.Stage[{stage.name!r}]"
    assert imports == {"import syzygy.constants"}
    assert Stage[stage.name] is stage


def test_ambiguity_exceptions_are_value_errors() -> None:
    """1.x's syzygy/__init__.py exports ``AmbiguousStage`` and ``AmbiguousPlan``
    from ``syzygy.exceptions``, subclasses of ``ValueError``."""
    assert syzygy.AmbiguousStage is syzygy.exceptions.AmbiguousStage
    assert syzygy.AmbiguousPlan is syzygy.exceptions.AmbiguousPlan
    assert issubclass(AmbiguousStage, ValueError)
    assert issubclass(AmbiguousPlan, ValueError)


# The stage of operations


@pytest.mark.parametrize(
    ("operation", "stage"),
    [
        (migrations.CreateModel("model", []), PRE_DEPLOY),
        (
            migrations.AddField("model", "field", models.IntegerField(null=True)),
            PRE_DEPLOY,
        ),
        (migrations.RunSQL("SELECT 1"), PRE_DEPLOY),
        (migrations.DeleteModel("model"), POST_DEPLOY),
        (migrations.RemoveField("model", "field"), POST_DEPLOY),
    ],
    ids=lambda value: type(value).__name__,
)
def test_only_removals_of_fields_and_models_are_post_deploy(
    operation: Operation, stage: Stage
) -> None:
    """1.x README: "A migration is assumed to be a *prerequisite* to
    deployment unless it contains a destructive operation"; 1.x
    GetOperationStageTests."""
    assert stage_of(operation) is stage


@pytest.mark.parametrize("stage", list(Stage), ids=lambda stage: stage.name)
def test_an_operation_stage_attribute_wins(stage: Stage) -> None:
    """1.x GetOperationStageTests: an operation's ``stage`` attribute is its
    stage."""
    assert stage_of(with_stage(Operation(), stage)) is stage
    assert stage_of(with_stage(migrations.RemoveField("model", "f"), stage)) is stage
    assert stage_of(with_stage(migrations.CreateModel("model", []), stage)) is stage


PRE_DEPLOY_OPERATIONS: list[Operation] = [migrations.CreateModel("model", [])]
POST_DEPLOY_OPERATIONS: list[Operation] = [migrations.DeleteModel("model")]


def test_partition_operations_of_no_operations() -> None:
    """1.x PartitionOperationsTests.test_empty."""
    assert partition_operations([], "migrations") == ([], [])


def test_partition_operations_of_a_single_stage() -> None:
    """1.x PartitionOperationsTests.test_pre_deploy_only and
    test_post_deploy_only."""
    assert partition_operations(PRE_DEPLOY_OPERATIONS, "migrations") == (
        PRE_DEPLOY_OPERATIONS,
        [],
    )
    assert partition_operations(POST_DEPLOY_OPERATIONS, "migrations") == (
        [],
        POST_DEPLOY_OPERATIONS,
    )


def test_partition_operations_splits_mixed_stages() -> None:
    """1.x PartitionOperationsTests.test_mixed."""
    operations = PRE_DEPLOY_OPERATIONS + POST_DEPLOY_OPERATIONS
    assert partition_operations(operations, "migrations") == (
        PRE_DEPLOY_OPERATIONS,
        POST_DEPLOY_OPERATIONS,
    )


def test_partition_operations_moves_pre_deploy_operations_first_when_allowed() -> None:
    """1.x PartitionOperationsTests.test_mixed_reorder: a pre-deploy operation
    moves before post-deploy ones that don't touch what it touches."""
    post_deploy_operations: list[Operation] = [migrations.DeleteModel("other")]
    operations = post_deploy_operations + PRE_DEPLOY_OPERATIONS
    assert partition_operations(operations, "migrations") == (
        PRE_DEPLOY_OPERATIONS,
        post_deploy_operations,
    )


def test_partition_operations_refuses_to_reorder_dependent_operations() -> None:
    """1.x PartitionOperationsTests.test_ambiguous."""
    operations = POST_DEPLOY_OPERATIONS + PRE_DEPLOY_OPERATIONS
    with pytest.raises(AmbiguousStage):
        partition_operations(operations, "migrations")


# The stage of migrations


@pytest.mark.parametrize("stage", list(Stage), ids=lambda stage: stage.name)
def test_migration_stage_attribute_bypasses_operation_heuristics(stage: Stage) -> None:
    """1.x README: "When this attribute is defined it will bypass
    ``operations`` based heuristics."; 1.x GetMigrationStageTests
    .test_stage_attribute."""
    assert migration_stage(make_migration(stage=stage)).stage is stage
    mixed = make_migration(
        migrations.CreateModel("model", []),
        migrations.RemoveField("other", "field"),
        stage=stage,
    )
    assert migration_stage(mixed).stage is stage


def test_migration_stage_is_inferred_from_its_operations() -> None:
    """1.x GetMigrationStageTests.test_operations_stages: no operations, no
    stage."""
    assert migration_stage(make_migration()).stage is None
    assert stage_of(migrations.CreateModel("model", [])) is PRE_DEPLOY
    post_deploy = [migrations.DeleteModel("model"), migrations.RemoveField("m", "f")]
    assert stage_of(*post_deploy) is POST_DEPLOY


def test_migration_mixing_stages_is_ambiguous() -> None:
    """1.x GetMigrationStageTests.test_ambiguous_operations."""
    mixed = make_migration(
        migrations.CreateModel("model", []), migrations.DeleteModel("model")
    )
    with pytest.raises(AmbiguousStage):
        migration_stage(mixed)


OVERRIDES = list(product(Stage, ["alpha.migration", "alpha"]))


@pytest.mark.parametrize(("stage", "key"), OVERRIDES)
def test_stages_override_setting_by_app_or_migration(stage: Stage, key: str) -> None:
    """1.x README, "Third-party migrations": an override stage "can be
    specified through ``MIGRATION_STAGES_OVERRIDE``"; 1.x
    GetMigrationStageTests.test_stage_override_setting, keyed by
    "app_label.name" or "app_label"."""
    # An operation of the other stage: the override wins over inference.
    operation: Operation = (
        migrations.RemoveField("model", "field")
        if stage is PRE_DEPLOY
        else migrations.CreateModel("model", [])
    )
    with override_settings(MIGRATION_STAGES_OVERRIDE={key: stage}):
        assert migration_stage(make_migration()).stage is stage
        assert migration_stage(make_migration(operation)).stage is stage


def test_migration_without_operations_has_no_stage_without_the_setting() -> None:
    """1.x GetMigrationStageTests.test_stage_override_setting: without the
    setting, a migration without operations has no stage."""
    with override_settings():
        del settings.MIGRATION_STAGES_OVERRIDE
        assert migration_stage(make_migration()).stage is None


@pytest.mark.parametrize(("stage", "key"), OVERRIDES)
def test_stages_fallback_setting_settles_mixed_migrations(
    stage: Stage, key: str
) -> None:
    """1.x README: a fallback stage "can be specified through the respective
    ``MIGRATION_STAGES_FALLBACK``"; 1.x GetMigrationStageTests
    .test_stage_fallback_setting."""
    mixed = make_migration(
        migrations.CreateModel("model", []), migrations.DeleteModel("model")
    )
    with override_settings(MIGRATION_STAGES_FALLBACK={key: stage}):
        assert migration_stage(mixed).stage is stage
        # It settles mixed migrations only.
        assert stage_of(migrations.DeleteModel("model")) is POST_DEPLOY


def test_third_party_migrations_fall_back_to_pre_deploy() -> None:
    """1.x README: "By default third-party app migrations with an ambiguous
    sequence of operations will fallback to ``Stage.PRE_DEPLOY`` but this
    behavior can be changed by setting ``MIGRATION_THIRD_PARTY_STAGES_FALLBACK``
    to ``Stage.POST_DEPLOY`` or disabled by setting it to ``None``."""
    # Installed from site-packages, it alters, runs Python and removes a field.
    third_party = MigrationLoader(None).get_migration(
        "contenttypes", "0002_remove_content_type_name"
    )
    assert migration_stage(third_party).stage is PRE_DEPLOY
    with override_settings(MIGRATION_THIRD_PARTY_STAGES_FALLBACK=POST_DEPLOY):
        assert migration_stage(third_party).stage is POST_DEPLOY
    with (
        override_settings(MIGRATION_THIRD_PARTY_STAGES_FALLBACK=None),
        pytest.raises(AmbiguousStage),
    ):
        migration_stage(third_party)
    # The apps of the project aren't third-party.
    with pytest.raises(AmbiguousStage):
        migration_stage(
            make_migration(
                migrations.CreateModel("model", []), migrations.DeleteModel("model")
            )
        )


# migrate --pre-deploy, then migrate


def test_pre_deploy_applies_pre_deploy_migrations_only(use_scenario: Scenario) -> None:
    """1.x MigrateTests.test_pre_deploy_forward; 1.x README: "the `migrate`
    command allows migrations meant to be run before a deployment to be
    targeted using `--pre-deploy` flag"."""
    use_scenario("contract_1x.functional")
    assert_migrations_are_recorded()
    plan = planned(migrate("alpha", "--plan", "--pre-deploy"))
    assert "alpha.0001_pre_deploy" in plan
    assert "alpha.0002_post_deploy" not in plan
    assert "alpha.0003_post_deploy_run_sql" not in plan
    assert applied() == []
    migrate("alpha", "--pre-deploy", skip_checks=False)
    assert applied() == ["0001_pre_deploy"]
    assert logged() == ["0001_pre_deploy"]
    assert "bio" in table_columns("alpha_author")


def test_migrate_after_the_deploy_applies_the_postponed_migrations(
    use_scenario: Scenario,
) -> None:
    """1.x README: "Setup you deployment pipeline to run ``migrate
    --pre-deploy`` before rolling out your code changes and ``migrate``
    afterwards to apply the postponed migrations."; a ``Stage.POST_DEPLOY``
    migration of ``RunSQL`` is postponed, as in the README's example."""
    use_scenario("contract_1x.functional")
    assert_migrations_are_recorded()
    migrate("alpha", pre_deploy=True, skip_checks=False)
    migrate("alpha", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_pre_deploy"]
    migrate("alpha", skip_checks=False)
    assert applied() == [
        "0001_pre_deploy",
        "0002_post_deploy",
        "0003_post_deploy_run_sql",
    ]
    assert logged() == ["0001_pre_deploy", "0003_post_deploy_run_sql"]
    assert "bio" not in table_columns("alpha_author")


def test_pre_deploy_reverting_reverts_post_deploy_migrations_only(
    use_scenario: Scenario,
) -> None:
    """1.x MigrateTests.test_pre_deploy_backward; 1.x README, "Reverts":
    "A migration that is normally considered a *prerequisite* would then be
    *postponed* when reverted."."""
    use_scenario("contract_1x.functional")
    migrate("alpha", verbosity=0)
    plan = planned(migrate("alpha", "zero", plan=True, pre_deploy=True))
    assert "alpha.0003_post_deploy_run_sql" in plan
    assert "alpha.0002_post_deploy" in plan
    assert "alpha.0001_pre_deploy" not in plan
    migrate("alpha", "zero", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_pre_deploy"]
    assert logged() == ["0001_pre_deploy"]
    assert "bio" in table_columns("alpha_author")
    migrate("alpha", "zero", skip_checks=False)
    assert applied() == []
    assert "alpha_author" not in table_names()


def test_migrate_accepts_the_1x_stage_option(use_scenario: Scenario) -> None:
    """1.x MigrateTests and MigrateQuorumTests call
    ``call_command("migrate", "tests", stage=Stage.PRE_DEPLOY)`` and
    ``stage=Stage.POST_DEPLOY``."""
    use_scenario("contract_1x.functional")
    call_command("migrate", "alpha", stage=PRE_DEPLOY, verbosity=0)
    assert applied() == ["0001_pre_deploy"]
    call_command("migrate", "alpha", stage=POST_DEPLOY, verbosity=0)
    assert applied() == [
        "0001_pre_deploy",
        "0002_post_deploy",
        "0003_post_deploy_run_sql",
    ]


def test_pre_deploy_applies_the_whole_plan_on_a_database_without_migrations(
    use_scenario: Scenario, unrecorded_database: None
) -> None:
    """Changed on purpose, docs/upgrading.rst: "On a database where no
    migration has been recorded, ``migrate --pre-deploy`` applies the whole
    plan, and says so." (1.x applied the pre-deploy migrations only)."""
    use_scenario("contract_1x.functional")
    output = migrate("alpha", pre_deploy=True)
    assert "so the whole plan is applied" in output
    assert applied() == [
        "0001_pre_deploy",
        "0002_post_deploy",
        "0003_post_deploy_run_sql",
    ]


def test_pre_deploy_applies_a_removal_staged_pre_deploy(
    use_scenario: Scenario,
) -> None:
    """1.x README: "When this attribute is defined it will bypass
    ``operations`` based heuristics.": ``stage = Stage.PRE_DEPLOY`` on a
    migration that removes a field runs it before the deploy (syzygy may warn,
    syzygy.W008, but doesn't block it)."""
    use_scenario("explicit_stages")
    migrate("alpha", "0001", verbosity=0)
    output = migrate("alpha", "0003", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_initial", "0002_remove_author_nickname"]
    assert "nickname" not in table_columns("alpha_author")
    assert "alpha.0003_remove_author_city" in output.split(POSTPONED)[1]


@pytest.mark.parametrize("key", ["alpha", "alpha.0003_remove_author_city"])
def test_pre_deploy_follows_the_stages_override_setting(
    use_scenario: Scenario, key: str
) -> None:
    """1.x README, "Third-party migrations": ``MIGRATION_STAGES_OVERRIDE``
    sets the stage of migrations, by app or by migration."""
    use_scenario("explicit_stages")
    migrate("alpha", "0001", verbosity=0)
    with override_settings(MIGRATION_STAGES_OVERRIDE={key: PRE_DEPLOY}):
        migrate("alpha", "0003", pre_deploy=True, skip_checks=False)
    assert applied() == [
        "0001_initial",
        "0002_remove_author_nickname",
        "0003_remove_author_city",
    ]
    assert "city" not in table_columns("alpha_author")


@pytest.mark.parametrize(
    "key", ["alpha", "alpha.0004_author_rating_remove_author_country"]
)
def test_pre_deploy_follows_the_stages_fallback_setting(
    use_scenario: Scenario, key: str
) -> None:
    """1.x README, "Third-party migrations": ``MIGRATION_STAGES_FALLBACK``
    gives migrations with an ambiguous sequence of operations a stage."""
    use_scenario("explicit_stages")
    migrate("alpha", "0001", verbosity=0)
    with pytest.raises(CommandError, match="Cannot automatically determine stage"):
        migrate("alpha", pre_deploy=True, skip_checks=False)
    with override_settings(MIGRATION_STAGES_FALLBACK={key: POST_DEPLOY}):
        output = migrate("alpha", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_initial", "0002_remove_author_nickname"]
    assert (
        "alpha.0004_author_rating_remove_author_country" in output.split(POSTPONED)[1]
    )


@pytest.mark.parametrize("options", [{}, {"plan": True}], ids=["apply", "plan"])
def test_pre_deploy_fails_on_a_migration_mixing_stages(
    use_scenario: Scenario, options: dict[str, Any]
) -> None:
    """1.x MigrateTests.test_ambiguous: a ``CommandError`` "Cannot
    automatically determine stage of <migration>"."""
    use_scenario("ambiguous")
    assert_migrations_are_recorded()
    with pytest.raises(CommandError) as raised:
        migrate("alpha", pre_deploy=True, skip_checks=False, **options)
    assert "Cannot automatically determine stage of alpha.0002_mixed" in str(
        raised.value
    )
    assert applied() == []


@pytest.mark.parametrize("options", [{}, {"plan": True}], ids=["apply", "plan"])
def test_pre_deploy_fails_when_a_pre_deploy_migration_depends_on_a_postponed_one(
    use_scenario: Scenario, options: dict[str, Any]
) -> None:
    """1.x GetPreDeployPlanTests.test_non_contiguous_deps; 1.x README, "CI
    Integration": "the ``migrate --pre-deploy`` command will fail with an
    ``AmbiguousPlan`` exception detailing the ambiguity"."""
    use_scenario("cross_app")
    migrate("alpha", "0001", verbosity=0)
    with pytest.raises(CommandError) as raised:
        migrate(pre_deploy=True, skip_checks=False, **options)
    message = str(raised.value)
    assert message.startswith(
        "Plan contains a non-contiguous sequence of pre-deployment migrations"
    )
    assert "beta.0002_book_pages" in message
    assert "alpha.0002_remove_author_bio" in message
    assert isinstance(raised.value.__cause__, AmbiguousPlan)
    assert applied("alpha") == ["0001_initial"]
    assert applied("beta") == []


def test_pre_deploy_applies_migrations_that_follow_an_unrelated_postponed_one(
    use_scenario: Scenario,
) -> None:
    """1.x GetPreDeployPlanTests.test_non_contiguous_free: a post-deploy
    migration that comes first in the plan doesn't hold back the pre-deploy
    migrations that don't depend on it."""
    use_scenario("cross_app")
    migrate("alpha", "0001", verbosity=0)
    with override_settings(
        MIGRATION_STAGES_OVERRIDE={"beta.0002_book_pages": POST_DEPLOY}
    ):
        plan = migrate(plan=True)
        assert plan.index("alpha.0002_remove_author_bio") < plan.index(
            "beta.0001_initial"
        )
        migrate(pre_deploy=True, skip_checks=False)
    assert applied("alpha") == ["0001_initial"]
    assert applied("beta") == ["0001_initial"]


# System checks


def test_check_command_fails_on_a_migration_with_an_ambiguous_stage(
    use_scenario: Scenario,
) -> None:
    """1.x README, "Checks": "These checks will generate an error for every
    migration with an ambiguous ``stage``." (``manage.py check``)."""
    use_scenario("ambiguous")
    with pytest.raises(SystemCheckError, match=r"alpha\.0002_mixed"):
        call_command("check")


def test_migrations_checks_report_each_ambiguous_migration(
    use_scenario: Scenario,
) -> None:
    """1.x ChecksTests.test_ambiguous_stage; the id is ``syzygy.E001`` now
    (docs/upgrading.rst, "The system check id"). A migration mixing stages
    under an explicit ``stage`` isn't reported (1.x README: "it is recommended
    to manually annotate them with proper ``stage``")."""
    use_scenario("ambiguous")
    errors = run_checks(app_configs=[apps.get_app_config("alpha")], tags={"migrations"})
    assert len(errors) == 1
    (error,) = errors
    assert isinstance(error, Error)
    assert error.id == "syzygy.E001"
    assert error.msg.startswith(
        "Cannot automatically determine stage of alpha.0002_mixed"
    )
    assert error.hint


@pytest.mark.parametrize(
    "setting",
    [
        {"MIGRATION_STAGES_OVERRIDE": {"alpha.0002_mixed": PRE_DEPLOY}},
        {"MIGRATION_STAGES_FALLBACK": {"alpha.0002_mixed": POST_DEPLOY}},
        {"MIGRATION_STAGES_FALLBACK": {"alpha": POST_DEPLOY}},
    ],
    ids=["override", "fallback", "app fallback"],
)
def test_migrations_checks_accept_a_stage_set_by_the_settings(
    use_scenario: Scenario, setting: dict[str, Any]
) -> None:
    """1.x README, "Checks": "For third party migrations you should refer to
    the following section" (``MIGRATION_STAGES_OVERRIDE`` and
    ``MIGRATION_STAGES_FALLBACK``)."""
    use_scenario("ambiguous")
    with override_settings(**setting):
        assert run_checks(tags={"migrations"}) == []
        call_command("check", stdout=StringIO())


def test_legacy_check_id_still_silences_the_check(use_scenario: Scenario) -> None:
    """1.x reported ``migrations.0001``; docs/upgrading.rst:
    ``"migrations.0001"`` in ``SILENCED_SYSTEM_CHECKS`` "still silences the
    check"."""
    use_scenario("ambiguous")
    with override_settings(SILENCED_SYSTEM_CHECKS=["migrations.0001"]):
        assert run_checks(tags={"migrations"}) == []
        stdout = StringIO()
        call_command("check", stdout=stdout)
    assert "System check identified no issues" in stdout.getvalue()


def test_migrations_checks_accept_an_empty_migrations_package(
    use_scenario: Scenario,
) -> None:
    """1.x ChecksTests.test_empty_migration_folder."""
    use_scenario("contract_1x.empty")
    alpha = apps.get_app_config("alpha")
    assert run_checks(app_configs=[alpha], tags={"migrations"}) == []


# makemigrations


@pytest.fixture
def open_case(
    tmp_path: Path, transactional_db: None
) -> Iterator[Callable[[str], Case]]:
    """Install a case of migrations_scenarios/contract_1x/ (see the harness)."""
    with ExitStack() as stack:
        yield lambda label: stack.enter_context(
            makemigrations_case(label, tmp_path / label, CONTRACT_CASES)
        )


def written_stages(case: Case) -> list[Stage | None]:
    return [migration_stage(case.migration(name)).stage for name in case.written()]


def test_makemigrations_splits_adding_a_not_null_field_with_a_default(
    open_case: Callable[[str], Case],
) -> None:
    """1.x README, "Field addition": "syzygy splits the operation in two, a
    specialized ``AddField`` operation that performs the column addition
    without the ``DROP DEFAULT`` and follow up ``PostAddField`` operation that
    drops the database level default. The first is marked as
    ``Stage.PRE_DEPLOY`` and the second as ``Stage.POST_DEPLOY``."; 1.x
    AutodetectorTests.test_field_addition."""
    case = open_case("field_addition")
    outcome = case.makemigrations()
    assert outcome.status == 0
    assert case.written() == ["0002_foo_bar", "0003_drop_db_default_foo_bar"]
    assert written_stages(case) == [PRE_DEPLOY, POST_DEPLOY]
    assert case.migration("0003_drop_db_default_foo_bar").dependencies == [
        ("field_addition", "0002_foo_bar")
    ]
    assert "Drop database DEFAULT of field bar on foo" in outcome.stdout
    case.migrate("0001")
    case.migrate(pre_deploy=True)
    assert case.applied() == ["0001_initial", "0002_foo_bar"]
    # The old code inserts rows without the new column.
    execute("INSERT INTO field_addition_foo (id) VALUES (1)")
    assert fetch("SELECT bar FROM field_addition_foo") == [(42,)]
    case.migrate()
    assert table_columns("field_addition_foo")["bar"].default is None


def test_makemigrations_splits_removing_a_not_null_field(
    open_case: Callable[[str], Case],
) -> None:
    """1.x MakeMigrationsTests.test_null_field_removal; 1.x README, "Field
    removal": "a specialized ``PreRemoveField`` operation adds a database
    level ``DEFAULT`` to the column if a ``Field.default`` is present or make
    the field nullable otherwise and a second vanilla ``RemoveField``
    operation"."""
    case = open_case("null_field_removal")
    output = case.makemigrations("--dry-run").stdout
    # 1.x's migrations package was null_field_removal/, this one migrations/.
    assert "/migrations/0002_set_nullable_foo_bar.py" in output
    assert "Set field bar of foo NULLable" in output
    assert "/migrations/0003_remove_foo_bar.py" in output
    assert "Remove field bar from foo" in output
    assert case.written() == []
    case.makemigrations()
    assert case.written() == ["0002_set_nullable_foo_bar", "0003_remove_foo_bar"]
    assert written_stages(case) == [PRE_DEPLOY, POST_DEPLOY]
    case.migrate("0001")
    case.migrate(pre_deploy=True)
    assert case.applied() == ["0001_initial", "0002_set_nullable_foo_bar"]
    # The new code inserts rows without the removed column.
    execute("INSERT INTO null_field_removal_foo (id) VALUES (1)")
    assert fetch("SELECT bar FROM null_field_removal_foo") == [(None,)]
    case.migrate()
    assert "bar" not in table_columns("null_field_removal_foo")
    # Reverting adds the NOT NULL column back, which needs an empty table.
    execute("DELETE FROM null_field_removal_foo")


@pytest.mark.parametrize("label", ["field_addition", "null_field_removal"])
def test_makemigrations_disable_syzygy_is_django_makemigrations(
    open_case: Callable[[str], Case], label: str
) -> None:
    """1.x MakeMigrationsTests.test_disabled: ``--disable-syzygy`` leaves
    syzygy out of ``makemigrations``."""
    case = open_case(label)
    options = ("--dry-run", "--verbosity", "3", "--no-header")
    django = case.makemigrations(*options, command=DjangoMakemigrations())
    disabled = case.makemigrations(*options, disable_syzygy=True)
    assert disabled == django
    assert "syzygy." not in disabled.stdout
    case.makemigrations(disable_syzygy=True)
    assert len(case.written()) == 1


def test_makemigrations_merges_non_interactively(
    open_case: Callable[[str], Case],
) -> None:
    """1.x MakeMigrationsTests.test_merge_conflict."""
    case = open_case("merge_conflict")
    outcome = case.makemigrations("--merge", "--dry-run", interactive=False)
    assert outcome.status == 0
    assert "0002_first" in outcome.stdout
    assert "0002_second" in outcome.stdout
    case.makemigrations("--merge", interactive=False)
    assert case.written() == [
        "0002_first",
        "0002_second",
        "0003_merge_0002_first_0002_second",
    ]
    case.migrate()
    assert case.applied()[-1] == "0003_merge_0002_first_0002_second"


# Migration files written by 1.x


def disk_stages(app_label: str = "alpha") -> list[Stage | None]:
    loader = MigrationLoader(None)
    return [
        migration_stage(migration).stage
        for (app, _), migration in sorted(loader.disk_migrations.items())
        if app == app_label
    ]


def test_1x_migration_files_keep_their_stages(use_scenario: Scenario) -> None:
    """docs/upgrading.rst: migration files written with 1.x "keep their
    stages"; 1.x README: ``AddField`` and ``PreRemoveField`` are pre-deploy,
    ``PostAddField`` and ``RemoveField`` post-deploy, and ``AlterField``,
    ``RenameField`` and ``RenameModel`` take their ``stage``."""
    use_scenario("legacy_1x")
    assert disk_stages() == [
        PRE_DEPLOY,  # CreateModel
        PRE_DEPLOY,  # syzygy.operations.AddField
        POST_DEPLOY,  # syzygy.operations.PostAddField
        PRE_DEPLOY,  # syzygy.operations.PreRemoveField
        POST_DEPLOY,  # RemoveField
        POST_DEPLOY,  # syzygy.operations.AlterField(stage=POST_DEPLOY)
        POST_DEPLOY,  # syzygy.operations.RenameField(stage=POST_DEPLOY)
    ]
    use_scenario("contract_1x.legacy_operations")
    assert disk_stages() == [
        PRE_DEPLOY,  # CreateModel
        POST_DEPLOY,  # syzygy.operations.RenameModel(stage=POST_DEPLOY)
        PRE_DEPLOY,  # syzygy.operations.AlterField(stage=PRE_DEPLOY)
        PRE_DEPLOY,  # syzygy.operations.RenameField(stage=PRE_DEPLOY)
        PRE_DEPLOY,  # syzygy.operations.RenameModel(stage=PRE_DEPLOY)
    ]


def test_1x_migration_files_apply_forwards_and_backwards(
    use_scenario: Scenario,
) -> None:
    """docs/upgrading.rst: "Migration files written with 1.x load, apply
    forwards and backwards, produce the same schema"."""
    use_scenario("legacy_1x")
    migrate("alpha", verbosity=0)
    assert len(applied()) == 7
    assert set(table_columns("alpha_author")) == {
        "id",
        "rating",
        "publisher_id",
        "biography",
    }
    migrate("alpha", "zero", verbosity=0)
    assert applied() == []
    assert "alpha_author" not in table_names()


def test_1x_stage_arguments_of_renames_apply_forwards_and_backwards(
    use_scenario: Scenario,
) -> None:
    """1.x RenameModelTests, RenameFieldTests, AlterFieldTests: the
    operations take a ``stage``, and ``migrate --pre-deploy`` follows it."""
    use_scenario("contract_1x.legacy_operations")
    migrate("alpha", "0001", verbosity=0)
    output = migrate("alpha", "0002", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_initial"]
    assert "alpha.0002_rename_publisher_press" in output.split(POSTPONED)[1]
    migrate("alpha", "0002", verbosity=0)
    migrate("alpha", pre_deploy=True, skip_checks=False)
    assert len(applied()) == 5
    assert set(table_columns("alpha_imprint")) == {"id", "title"}
    migrate("alpha", "zero", verbosity=0)
    assert not {"alpha_publisher", "alpha_press", "alpha_imprint"} & table_names()


def test_1x_add_field_keeps_a_database_default_until_post_add_field(
    use_scenario: Scenario,
) -> None:
    """1.x README, "Field addition": ``AddField`` "performs the column
    addition without the ``DROP DEFAULT``" and ``PostAddField`` "drops the
    database level default"."""
    use_scenario("legacy_1x")
    migrate("alpha", "0001", verbosity=0)
    execute("INSERT INTO alpha_publisher (id, name) VALUES (1, 'Penguin')")
    migrate("alpha", "0003", pre_deploy=True, skip_checks=False)
    assert applied() == ["0001_initial", "0002_author_rating_author_publisher"]
    # The old code inserts authors without the new columns.
    execute("INSERT INTO alpha_author (name, nickname) VALUES ('old', 'anon')")
    assert fetch("SELECT rating, publisher_id FROM alpha_author") == [(42, 1)]
    migrate("alpha", "0003", verbosity=0)
    assert table_columns("alpha_author")["rating"].default is None
    with pytest.raises(IntegrityError):
        execute("INSERT INTO alpha_author (name, nickname) VALUES ('old', 'anon')")


def test_1x_pre_remove_field_keeps_inserts_without_the_field_working(
    use_scenario: Scenario,
) -> None:
    """1.x README, "Field removal": ``PreRemoveField`` "adds a database level
    ``DEFAULT`` to the column if a ``Field.default`` is present or make the
    field nullable otherwise"."""
    use_scenario("legacy_1x")
    migrate("alpha", "0003", verbosity=0)
    execute("INSERT INTO alpha_publisher (id, name) VALUES (1, 'Penguin')")
    migrate("alpha", "0005", pre_deploy=True, skip_checks=False)
    assert applied()[-1] == "0004_set_nullable_author_name_and_more"
    # The new code inserts authors without the removed columns.
    execute("INSERT INTO alpha_author (rating, publisher_id) VALUES (1, 1)")
    assert fetch("SELECT name, nickname FROM alpha_author") == [(None, "anon")]
    migrate("alpha", "0005", verbosity=0)
    assert not {"name", "nickname"} & set(table_columns("alpha_author"))
    # Reverting makes name NOT NULL again, which needs rows with a name.
    execute("DELETE FROM alpha_author")


def serde_roundtrip(operation: Operation) -> tuple[str, Operation]:
    """Write ``operation`` as a migration file does, and read it back."""
    serialized, imports = OperationWriter(operation, indentation=0).serialize()
    namespace: dict[str, Any] = {}
    exec("\n".join([*imports, f"operation = {serialized[:-1]}"]), {}, namespace)
    return serialized, namespace["operation"]


def deep_deconstruct(value: Any) -> Any:
    return MigrationAutodetector(ProjectState(), ProjectState()).deep_deconstruct(value)


@pytest.mark.parametrize(
    "operation",
    [
        syzygy_operations.RenameField(
            "model", "old_field", "new_field", stage=POST_DEPLOY
        ),
        syzygy_operations.RenameModel("old_name", "new_name", stage=POST_DEPLOY),
        syzygy_operations.AlterField(
            "model", "field", models.IntegerField(), PRE_DEPLOY
        ),
    ],
    ids=lambda operation: type(operation).__name__,
)
def test_1x_staged_operations_serialize_with_their_stage(operation: Operation) -> None:
    """1.x RenameFieldTests, RenameModelTests and AlterFieldTests
    .test_serialization."""
    serialized, read_back = serde_roundtrip(operation)
    assert f"stage=syzygy.constants.Stage[{operation.stage.name!r}]" in serialized
    assert deep_deconstruct(read_back) == deep_deconstruct(operation)
    assert read_back.stage is operation.stage


def test_1x_field_operations_describe_themselves_as_in_1x() -> None:
    """1.x PostAddFieldTests and PreRemoveFieldTests .test_describe and
    .test_migration_name_fragment."""
    with_default = models.IntegerField(default=42)
    post_add = syzygy_operations.PostAddField("TestModel", "foo", with_default)
    assert post_add.describe() == "Drop database DEFAULT of field foo on TestModel"
    assert post_add.migration_name_fragment == "drop_db_default_testmodel_foo"
    pre_remove = syzygy_operations.PreRemoveField("TestModel", "foo", with_default)
    assert pre_remove.describe() == "Set database DEFAULT of field foo on TestModel"
    assert pre_remove.migration_name_fragment == "set_db_default_testmodel_foo"
    nullable = syzygy_operations.PreRemoveField(
        "TestModel", "foo", models.IntegerField()
    )
    assert nullable.describe() == "Set field foo of TestModel NULLable"
    assert nullable.migration_name_fragment == "set_nullable_testmodel_foo"


def test_1x_alter_field_migration_name_fragment_can_be_assigned() -> None:
    """1.x AlterFieldTests.test_migration_name_fragment."""
    operation = syzygy_operations.AlterField(
        "model", "field", models.IntegerField(), PRE_DEPLOY
    )
    assert operation.migration_name_fragment == "alter_model_field"
    operation.migration_name_fragment = "alter_what_ever"
    assert operation.migration_name_fragment == "alter_what_ever"


def test_1x_add_field_and_post_add_field_optimize_to_an_add_field() -> None:
    """1.x PostAddFieldTests.test_reduce."""
    field = models.IntegerField(default=42)
    operations = [
        syzygy_operations.AddField("TestModel", "foo", field),
        syzygy_operations.PostAddField("TestModel", "foo", field),
    ]
    optimized = MigrationOptimizer().optimize(operations, "tests")
    assert deep_deconstruct(optimized) == deep_deconstruct(
        [migrations.AddField("TestModel", "foo", field)]
    )


def test_1x_pre_remove_field_is_elided_by_a_remove_field() -> None:
    """1.x PreRemoveFieldTests.test_elidable."""
    field = models.IntegerField(default=42)
    operations = [
        syzygy_operations.PreRemoveField("TestModel", "foo", field),
        migrations.RemoveField("TestModel", "foo"),
    ]
    optimized = MigrationOptimizer().optimize(operations, "tests")
    assert deep_deconstruct(optimized) == deep_deconstruct(operations[-1:])


# The quorum


@pytest.fixture
def redis_cache() -> Iterator[dict[str, Any]]:
    """Return the settings of the cache alias ``redis`` on keys of this test.

    ``CacheQuorum`` refuses the local-memory cache, which can't coordinate
    processes: the quorum tests need Redis.
    """
    if "redis" not in settings.CACHES:
        reason = (
            "REDIS_URL is not set, so tests/settings.py has no 'redis' cache "
            "alias for the quorum"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    require_redis()
    prefix = f"syzygy-contract-1x-{uuid.uuid4().hex}"
    cache = {**settings.CACHES["redis"], "KEY_PREFIX": prefix}
    yield cache
    client = redis.Redis.from_url(cache["LOCATION"])
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


BACKEND_SETTINGS: dict[str, Any] = {
    # The default cache is pointed at Redis.
    "path": CACHE_QUORUM,
    "dict": {"backend": CACHE_QUORUM, "alias": "redis"},
    "dict with options": {"backend": CACHE_QUORUM, "alias": "redis", "version": 46},
}


@contextmanager
def quorum_backend(form: str, redis_cache: dict[str, Any]) -> Iterator[None]:
    caches = {**settings.CACHES, "redis": redis_cache}
    if form == "path":
        caches["default"] = redis_cache
    with override_settings(
        CACHES=caches, MIGRATION_QUORUM_BACKEND=BACKEND_SETTINGS[form]
    ):
        yield


@pytest.fixture(params=list(BACKEND_SETTINGS))
def any_backend_setting(
    request: pytest.FixtureRequest, redis_cache: dict[str, Any]
) -> Iterator[None]:
    """``MIGRATION_QUORUM_BACKEND`` in each of the forms of 1.x's README."""
    with quorum_backend(request.param, redis_cache):
        yield


@pytest.fixture
def backend_setting(redis_cache: dict[str, Any]) -> Iterator[None]:
    """``MIGRATION_QUORUM_BACKEND`` as a dict, on the cache alias ``redis``."""
    with quorum_backend("dict", redis_cache):
        yield


def test_quorum_functions_keep_their_1x_names() -> None:
    """1.x QuorumTests import ``QuorumDisolved``, ``join_quorum``,
    ``poll_quorum`` and ``sever_quorum`` from ``syzygy.quorum``;
    docs/upgrading.rst: "``QuorumDissolved`` is the new spelling of
    ``QuorumDisolved``, which stays as an alias"."""
    assert QuorumDisolved is QuorumDissolved
    assert all(callable(f) for f in (join_quorum, poll_quorum, sever_quorum))


@pytest.mark.parametrize(
    "setting",
    [
        {},
        {"backend": None},
        "syzygy.void",
        {"backend": CACHE_QUORUM, "unsupported": True},
    ],
    ids=["empty dict", "no backend", "cannot import", "unsupported option"],
)
def test_misconfigured_quorum_backend_is_improperly_configured(setting: Any) -> None:
    """1.x QuorumConfigurationTests: ``ImproperlyConfigured`` naming the
    setting (the messages are worded anew)."""
    with (
        override_settings(MIGRATION_QUORUM_BACKEND=setting),
        pytest.raises(ImproperlyConfigured, match="MIGRATION_QUORUM_BACKEND"),
    ):
        join_quorum("foo", 1)


def test_missing_quorum_backend_is_improperly_configured() -> None:
    """1.x QuorumConfigurationTests.test_missing_setting."""
    with override_settings():
        del settings.MIGRATION_QUORUM_BACKEND
        with pytest.raises(ImproperlyConfigured, match="MIGRATION_QUORUM_BACKEND"):
            join_quorum("foo", 1)


def unique_namespace() -> str:
    return str(uuid.uuid4())


@pytest.mark.usefixtures("any_backend_setting")
def test_join_and_poll_quorum() -> None:
    """1.x BaseQuorumTestMixin.test_multiple, for each form of
    ``MIGRATION_QUORUM_BACKEND`` (1.x README, "Migration quorum")."""
    namespace = unique_namespace()
    assert join_quorum(namespace, 2) is False
    assert poll_quorum(namespace, 2) is False
    assert join_quorum(namespace, 2) is True
    assert poll_quorum(namespace, 2) is True


QUORUM = 5


def attain_quorum(namespace: str) -> bool:
    """1.x BaseQuorumTestMixin.attain_quorum."""
    if join_quorum(namespace, QUORUM):
        return True
    while not poll_quorum(namespace, QUORUM):
        time.sleep(0.01)
    return False


def run_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call on a thread; return its result or its error."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # reported by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index,)) for index in range(len(calls))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
        assert not thread.is_alive()
    return results


@pytest.mark.usefixtures("backend_setting")
def test_quorum_is_attained_by_one_party() -> None:
    """1.x BaseQuorumTestMixin.test_attainment."""
    namespace = unique_namespace()
    results = run_threads([lambda: attain_quorum(namespace)] * QUORUM)
    assert sorted(results) == [False] * (QUORUM - 1) + [True]


@pytest.mark.usefixtures("backend_setting")
def test_quorum_namespace_is_reusable_once_attained_or_dissolved() -> None:
    """1.x BaseQuorumTestMixin.test_attainment_namespace_reuse and
    test_disolution_namespace_reuse."""
    namespace = unique_namespace()
    assert join_quorum(namespace, 2) is False
    assert join_quorum(namespace, 2) is True
    assert poll_quorum(namespace, 2) is True
    # Once quorum is reached its namespace is cleared to make it reusable.
    assert join_quorum(namespace, 2) is False
    sever_quorum(namespace, 2)
    with pytest.raises(QuorumDisolved):
        poll_quorum(namespace, 2)
    # So is a dissolved one.
    assert join_quorum(namespace, 2) is False
    assert join_quorum(namespace, 2) is True
    assert poll_quorum(namespace, 2) is True


@pytest.mark.usefixtures("backend_setting")
def test_sever_quorum_dissolves_it_for_every_party() -> None:
    """1.x BaseQuorumTestMixin.test_disolution."""
    namespace = unique_namespace()
    calls: list[Callable[[], Any]] = [lambda: attain_quorum(namespace)] * (QUORUM - 1)
    calls.append(lambda: sever_quorum(namespace, QUORUM))
    random.shuffle(calls)
    results = run_threads(calls)
    assert sum(isinstance(result, QuorumDisolved) for result in results) == QUORUM - 1
    assert [r for r in results if not isinstance(r, QuorumDisolved)] == [None]


def run_parties(count: int, *args: str, **options: Any) -> list[Any]:
    """Run ``migrate`` as ``count`` parties on threads, as 1.x's tests did."""
    return run_threads([lambda: migrate(*args, **options)] * count)


def appliers(results: list[Any], migration: str) -> list[str]:
    return [
        result
        for result in results
        if isinstance(result, str) and f"Applying alpha.{migration}... OK" in result
    ]


@pytest.mark.usefixtures("backend_setting")
def test_quorum_with_an_empty_plan_does_no_quorum_work(
    use_scenario: Scenario,
) -> None:
    """1.x MigrateQuorumTests.test_empty_plan: "Quorum is entirely skipped when
    no migrations are planed"."""
    use_scenario("contract_1x.functional")
    output = migrate("alpha", "zero", quorum=2, quorum_timeout=1)
    assert "No migrations to apply." in output
    assert "quorum" not in output.lower()


@pytest.mark.usefixtures("backend_setting")
def test_quorum_applies_the_pre_deploy_plan_once(use_scenario: Scenario) -> None:
    """1.x MigrateQuorumTests.test_pre_deploy; 1.x README: "the ``migrate
    --quorum <N:int>`` command will wait for at least ``N`` number invocations
    of ``migrate`` for the planned migrations before proceeding with applying
    them once"."""
    use_scenario("contract_1x.functional")
    assert_migrations_are_recorded()
    results = run_parties(3, "alpha", "--pre-deploy", "--quorum", "3")
    assert all(isinstance(result, str) for result in results), results
    (applier,) = appliers(results, "0001_pre_deploy")
    assert "alpha.0002_post_deploy" not in planned(applier)
    assert applied() == ["0001_pre_deploy"]
    assert times_recorded("0001_pre_deploy") == 1
    assert logged() == ["0001_pre_deploy"]


@pytest.mark.parametrize("form", ["path", "dict"])
def test_quorum_applies_the_post_deploy_plan_once(
    use_scenario: Scenario, redis_cache: dict[str, Any], form: str
) -> None:
    """1.x MigrateQuorumTests.test_post_deploy, with each form of
    ``MIGRATION_QUORUM_BACKEND`` of 1.x's README."""
    use_scenario("contract_1x.functional")
    with quorum_backend(form, redis_cache):
        results = run_parties(3, "alpha", quorum=3)
    assert all(isinstance(result, str) for result in results), results
    (applier,) = appliers(results, "0001_pre_deploy")
    assert "Applying alpha.0002_post_deploy... OK" in applier
    assert "Applying alpha.0003_post_deploy_run_sql... OK" in applier
    assert applied() == [
        "0001_pre_deploy",
        "0002_post_deploy",
        "0003_post_deploy_run_sql",
    ]
    for name in applied():
        assert times_recorded(name) == 1
    assert logged() == ["0001_pre_deploy", "0003_post_deploy_run_sql"]


@pytest.mark.usefixtures("backend_setting")
def test_quorum_parties_fail_when_the_applying_party_fails(
    use_scenario: Scenario,
) -> None:
    """1.x MigrateQuorumTests.test_quorum_severed: the applying party raises
    its error, the others "Error encountered by remote party while applying
    migration, aborting."."""
    use_scenario("contract_1x.crash")
    results = run_parties(3, "alpha", pre_deploy=True, quorum=3)
    crashed = [result for result in results if isinstance(result, RuntimeError)]
    assert [str(result) for result in crashed] == ["Test crash"]
    severed = [result for result in results if isinstance(result, CommandError)]
    assert [str(result) for result in severed] == [REMOTE_FAILURE] * 2
    assert applied() == []


@pytest.mark.usefixtures("backend_setting")
def test_quorum_timeout_fails_the_party(use_scenario: Scenario) -> None:
    """1.x MigrateQuorumTests.test_quorum_timeout: a party alone fails once
    ``--quorum-timeout`` expires, and applies nothing."""
    use_scenario("contract_1x.functional")
    with pytest.raises(CommandError, match="Timed out"):
        migrate("alpha", "--quorum", "2", "--quorum-timeout", "1")
    assert applied() == []


@pytest.mark.usefixtures("backend_setting")
def test_quorum_timeout_raises_the_1x_runtime_error(use_scenario: Scenario) -> None:
    """1.x MigrateQuorumTests.test_quorum_timeout:
    ``assertRaisesMessage(RuntimeError, "Migration plan quorum timeout")``."""
    use_scenario("contract_1x.functional")
    with pytest.raises(RuntimeError, match="Migration plan quorum timeout"):
        migrate("alpha", quorum=2, quorum_timeout=1)


# The namespace of a plan (1.x HashPlanTests, on its successor)


def step(name: str, app_label: str = "alpha", backwards: bool = False) -> Any:
    return (Migration(name, app_label), backwards)


def namespace_of(*plan: Any) -> str:
    return plan_namespace(PRE_DEPLOY, "default", list(plan))


NAMESPACE_SCRIPT = """
import django
django.setup()
from django.db.migrations import Migration
from syzygy import Stage
from syzygy.quorum import plan_namespace
plan = [(Migration("0001_initial", "alpha"), False)]
print(plan_namespace(Stage.PRE_DEPLOY, "default", plan))
"""


def test_plan_namespace_is_stable() -> None:
    """1.x HashPlanTests.test_stable: every party computes the same namespace
    for the same plan, in any process (namespaces have another shape than
    1.x's hashes, docs/upgrading.rst)."""
    namespace = namespace_of(step("0001_initial"))
    assert namespace == namespace_of(step("0001_initial"))
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONHASHSEED": "12345",
    }
    other_process = subprocess.run(
        [sys.executable, "-c", NAMESPACE_SCRIPT],
        cwd=Path(__file__).parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert other_process.stdout.strip() == namespace


def test_plan_namespace_depends_on_each_step() -> None:
    """1.x HashPlanTests.test_order, test_backward, test_migration_name and
    test_app_label."""
    first, second = step("0001_initial"), step("0002_second")
    assert namespace_of(first, second) != namespace_of(second, first)
    assert namespace_of(first) != namespace_of(step("0001_initial", backwards=True))
    assert namespace_of(first) != namespace_of(second)
    assert namespace_of(first) != namespace_of(step("0001_initial", "other"))
