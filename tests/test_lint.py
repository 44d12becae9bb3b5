from __future__ import annotations

from collections.abc import Callable, Sequence
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.checks import CheckMessage, Error, Warning, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections, migrations, models
from django.db.migrations import Migration
from django.db.migrations.exceptions import BadMigrationError
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

import syzygy
from syzygy import Stage, conf
from syzygy.lint import IDS, check_unsafe_operations
from syzygy.reviews import LINT_IDS, reviews_of

pytestmark = pytest.mark.django_db

UseScenario = Callable[[str], None]

# What the migrations of the lint_unsafe scenario do wrong, in plan order.
UNSAFE = [
    ("syzygy.W002", "alpha.0002_author_name_index"),
    ("syzygy.W002", "alpha.0003_author_code"),
    ("syzygy.W002", "alpha.0004_author_publisher"),
    ("syzygy.W003", "alpha.0004_author_publisher"),
    ("syzygy.W003", "alpha.0005_author_rating_positive"),
    ("syzygy.W003", "alpha.0006_alter_author_email"),
    ("syzygy.W002", "alpha.0007_alter_author_city"),
    ("syzygy.W004", "alpha.0008_alter_author_bio"),
    ("syzygy.W004", "alpha.0009_alter_author_nickname"),
    ("syzygy.W005", "alpha.0010_author_uuid"),
    ("syzygy.W006", "alpha.0011_alter_author_rating"),
    ("syzygy.W007", "alpha.0012_rename_author_bio_author_biography"),
    ("syzygy.W007", "alpha.0013_rename_author_tags_author_labels"),
    ("syzygy.W007", "alpha.0014_rename_publisher_press"),
    ("syzygy.W008", "alpha.0015_remove_author_city"),
    ("syzygy.W007", "alpha.0017_alter_author_table"),
    ("syzygy.W002", "beta.0002_book_title_index"),
]


def lint(databases: Sequence[str] = ("default",), **kwargs: Any) -> list[CheckMessage]:
    return check_unsafe_operations(databases=list(databases), **kwargs)


def found(messages: list[CheckMessage]) -> list[tuple[str | None, str]]:
    return [(message.id, str(message.obj)) for message in messages]


def migrate(*args: str, database: str = "default") -> None:
    call_command("migrate", *args, database=database, verbosity=0)


def applied(app_label: str, database: str = "default") -> list[str]:
    recorder = MigrationRecorder(connections[database])
    return sorted(
        name for app, name in recorder.applied_migrations() if app == app_label
    )


@pytest.fixture
def unsafe(use_scenario: UseScenario) -> None:
    """Select the lint_unsafe scenario with its tables created."""
    use_scenario("lint_unsafe")
    migrate("alpha", "0001")
    migrate("beta", "0001")


# What is reported


def test_unsafe_operations_of_unapplied_migrations_are_reported(unsafe: None) -> None:
    messages = run_checks(databases=["default"])
    assert found(messages) == UNSAFE
    for message in messages:
        assert isinstance(message.obj, Migration)
        assert type(message) is Warning


@pytest.mark.parametrize(
    ("migration", "message_id", "problem", "remedy"),
    [
        (
            "alpha.0002_author_name_index",
            "syzygy.W002",
            "'Create index author_name_idx on field(s) name of model author' builds "
            "an index with a plain CREATE INDEX: writes to the table alpha_author "
            "wait until it has read every row.",
            "Use syzygy.operations.AddIndexConcurrently in a migration with "
            "atomic = False",
        ),
        (
            "alpha.0003_author_code",
            "syzygy.W002",
            "'Add field code to author' builds an index with a plain CREATE INDEX",
            "syzygy.operations.AlterFieldConcurrently",
        ),
        (
            "alpha.0004_author_publisher",
            "syzygy.W003",
            "'Add field publisher to author' adds a foreign key constraint to the "
            "existing table alpha_author, which locks it while every row is checked",
            "syzygy.operations.AlterFieldConcurrently",
        ),
        (
            "alpha.0005_author_rating_positive",
            "syzygy.W003",
            "'Create constraint author_rating_positive on model author' adds a check "
            "constraint to the existing table alpha_author",
            "syzygy.operations.AddConstraintNotValid",
        ),
        (
            "alpha.0006_alter_author_email",
            "syzygy.W003",
            "'Alter field email on author' adds a unique constraint",
            "syzygy.operations.AlterFieldConcurrently",
        ),
        (
            "alpha.0007_alter_author_city",
            "syzygy.W002",
            "'Alter field city on author' builds an index",
            "syzygy.operations.AlterFieldConcurrently",
        ),
        (
            "alpha.0008_alter_author_bio",
            "syzygy.W004",
            "'Alter field bio on author' makes the column alpha_author.bio NOT NULL, "
            "which locks the table while every row is checked",
            "syzygy.operations.AlterFieldConcurrently(..., "
            "stage=syzygy.Stage.POST_DEPLOY)",
        ),
        (
            "alpha.0009_alter_author_nickname",
            "syzygy.W004",
            "'Alter field nickname on author (post-deploy)' makes the column "
            "alpha_author.nickname NOT NULL",
            "stage=syzygy.Stage.POST_DEPLOY",
        ),
        (
            "alpha.0010_author_uuid",
            "syzygy.W005",
            "'Add field uuid to author' adds the NOT NULL column alpha_author.uuid "
            "with the default uuid.uuid4(), called once: every existing row gets "
            "the same value.",
            "syzygy.operations.BackfillField",
        ),
        (
            "alpha.0011_alter_author_rating",
            "syzygy.W006",
            "'Alter field rating on author' changes the type of the column "
            "alpha_author.rating from IntegerField to BigIntegerField: PostgreSQL "
            "rewrites the whole table",
            "Expand and contract",
        ),
        (
            "alpha.0012_rename_author_bio_author_biography",
            "syzygy.W007",
            "'Rename field bio on author to biography' renames the column "
            "alpha_author.bio to biography: while the release rolls out, the code "
            "that expects the other name fails.",
            "add db_column='bio' to the renamed field. Or rename it without "
            "downtime: syzygy.operations.ExpandRenameField in a pre-deploy "
            "migration, then syzygy.operations.ContractRenameField",
        ),
        (
            "alpha.0013_rename_author_tags_author_labels",
            "syzygy.W007",
            "renames the table alpha_author_tags to alpha_author_labels",
            "add db_table='alpha_author_tags' to the renamed field",
        ),
        (
            "alpha.0014_rename_publisher_press",
            "syzygy.W007",
            "'Rename model Publisher to Press' renames the table alpha_publisher to "
            "alpha_press",
            "set db_table = 'alpha_publisher' in the Meta of the renamed model",
        ),
        (
            "alpha.0017_alter_author_table",
            "syzygy.W007",
            "'Rename table for author to people' renames the table alpha_author "
            "to people: while the release rolls out, the code that expects the "
            "other name fails.",
            "syzygy.operations.ExpandAlterModelTable (a view under the old name)",
        ),
        (
            "alpha.0015_remove_author_city",
            "syzygy.W008",
            "'Remove field city from author' drops the field author.city before the "
            "deploy (its migration runs pre-deploy, defined by its Migration.stage): "
            "if the running code still uses it, its queries on alpha_author fail "
            "until the new code replaces it.",
            "syzygy.operations.PreRemoveField",
        ),
    ],
)
def test_each_message_names_the_migration_the_operation_and_the_risk(
    unsafe: None, migration: str, message_id: str, problem: str, remedy: str
) -> None:
    (message,) = [
        message
        for message in lint()
        if str(message.obj) == migration and message.id == message_id
    ]
    assert message.msg.startswith(f"In {migration}, '")
    assert problem in message.msg
    assert message.hint is not None
    assert remedy in message.hint


def test_applied_migrations_are_not_linted(unsafe: None) -> None:
    migrate("alpha", "0004")
    assert found(lint()) == UNSAFE[4:]


def test_nothing_is_reported_once_every_migration_is_applied(unsafe: None) -> None:
    migrate()
    assert lint() == []


def test_check_respects_app_configs(unsafe: None) -> None:
    beta = apps.get_app_config("beta")
    assert found(lint(app_configs=[beta])) == [UNSAFE[-1]]


def test_migrations_django_cannot_load_are_left_to_migrate() -> None:
    with override_settings(
        MIGRATION_MODULES={"alpha": "tests.migrations_scenarios.broken.alpha"}
    ):
        assert lint() == []
        with pytest.raises(BadMigrationError):
            call_command("migrate", "alpha", verbosity=0)


def test_check_runs_only_when_databases_are_checked(unsafe: None) -> None:
    assert check_unsafe_operations(databases=None) == []
    assert not {message.id for message in run_checks()} & set(IDS)


def test_silencing_every_lint_id_skips_the_work(
    unsafe: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("the migrations were loaded")

    monkeypatch.setattr("syzygy.lint.MigrationLoader", fail)
    with override_settings(SILENCED_SYSTEM_CHECKS=list(IDS)):
        assert lint() == []


def test_silenced_ids_are_left_out_of_the_check_command(unsafe: None) -> None:
    stderr = StringIO()
    silenced = [message_id for message_id in IDS if message_id != "syzygy.W005"]
    with override_settings(SILENCED_SYSTEM_CHECKS=silenced):
        call_command("check", "--database", "default", stderr=stderr)
    assert "alpha.0010_author_uuid: (syzygy.W005)" in stderr.getvalue()
    assert "1 issue (16 silenced)" in stderr.getvalue()


# Settings


def test_lint_exclude_skips_apps_and_migrations(unsafe: None) -> None:
    with override_settings(
        SYZYGY_LINT_EXCLUDE=["beta", "alpha.0002_author_name_index", "gamma"]
    ):
        assert found(lint()) == UNSAFE[1:-1]


def test_lint_errors_reports_the_warnings_as_errors(unsafe: None) -> None:
    with override_settings(SYZYGY_LINT_ERRORS=True):
        messages = lint()
        assert found(messages) == UNSAFE
        assert {type(message) for message in messages} == {Error}
        with pytest.raises(SystemCheckError, match=r"syzygy\.W002"):
            call_command("check", "--database", "default")


def test_warnings_fail_the_check_command_only_at_warning_level(unsafe: None) -> None:
    stderr = StringIO()
    call_command("check", "--database", "default", stderr=stderr)
    assert "(syzygy.W002)" in stderr.getvalue()
    assert "(syzygy.W008)" in stderr.getvalue()
    with pytest.raises(SystemCheckError, match=r"syzygy\.W002"):
        call_command("check", "--database", "default", fail_level="WARNING")


def test_migrate_applies_nothing_when_lint_errors_are_reported(unsafe: None) -> None:
    with (
        override_settings(SYZYGY_LINT_ERRORS=True),
        pytest.raises(SystemCheckError, match=r"alpha\.0002_author_name_index"),
    ):
        call_command("migrate", "alpha", skip_checks=False, verbosity=0)
    assert applied("alpha") == ["0001_initial"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "SYZYGY_LINT_ERRORS",
            "yes",
            "SYZYGY_LINT_ERRORS is 'yes'; accepted values are True and False.",
        ),
        (
            "SYZYGY_LINT_ERRORS",
            1,
            "SYZYGY_LINT_ERRORS is 1; accepted values are True and False.",
        ),
        (
            "SYZYGY_LINT_EXCLUDE",
            "alpha",
            "SYZYGY_LINT_EXCLUDE must be a list, tuple or set of 'app_label' or "
            "'app_label.migration_name' strings, not str.",
        ),
        (
            "SYZYGY_LINT_EXCLUDE",
            {"alpha": True},
            "SYZYGY_LINT_EXCLUDE must be a list, tuple or set of 'app_label' or "
            "'app_label.migration_name' strings, not dict.",
        ),
        (
            "SYZYGY_LINT_EXCLUDE",
            ["alpha/0002"],
            "SYZYGY_LINT_EXCLUDE has the item 'alpha/0002'; items must be "
            "'app_label' or 'app_label.migration_name'.",
        ),
        (
            "SYZYGY_LINT_EXCLUDE",
            [2],
            "SYZYGY_LINT_EXCLUDE has the item 2; items must be 'app_label' or "
            "'app_label.migration_name'.",
        ),
    ],
)
def test_bad_lint_settings_are_refused(
    unsafe: None, setting: str, value: object, message: str
) -> None:
    with override_settings(**{setting: value}):
        with pytest.raises(ImproperlyConfigured) as raised:
            conf.lint_config()
        assert str(raised.value) == message
        # syzygy.E003 reports it; the lint doesn't stop the other checks.
        assert lint() == []
        (error,) = [
            message
            for message in run_checks(databases=["default"])
            if message.id == "syzygy.E003"
        ]
        assert error.msg == message


def test_lint_settings_default_to_warnings_for_every_migration() -> None:
    assert conf.lint_config() == conf.LintConfig(errors=False, exclude=frozenset())
    with override_settings(
        SYZYGY_LINT_ERRORS=True, SYZYGY_LINT_EXCLUDE=("alpha", "beta.0001_initial")
    ):
        config = conf.lint_config()
    assert config.errors is True
    assert config.excludes("alpha", "0002_anything")
    assert config.excludes("beta", "0001_initial")
    assert not config.excludes("beta", "0002_book_title_index")


# Stages


def test_destructive_operation_is_reported_only_in_a_pre_deploy_migration(
    unsafe: None,
) -> None:
    removal = ("syzygy.W008", "alpha.0015_remove_author_city")
    assert removal in found(lint())
    # Inferred post-deploy: removing a field or deleting a model is expected.
    assert ("syzygy.W008", "alpha.0016_delete_tag") not in found(lint())
    with override_settings(
        MIGRATION_STAGES_OVERRIDE={
            "alpha.0015_remove_author_city": Stage.POST_DEPLOY,
            "alpha.0016_delete_tag": Stage.PRE_DEPLOY,
        }
    ):
        messages = lint()
    assert removal not in found(messages)
    deletions = [
        message.msg
        for message in messages
        if str(message.obj) == "alpha.0016_delete_tag"
    ]
    assert len(deletions) == 2
    assert deletions[0].startswith(
        "In alpha.0016_delete_tag, 'Remove field labels from author' drops"
    )
    assert deletions[1].startswith(
        "In alpha.0016_delete_tag, 'Delete model Tag' drops the model Tag"
    )
    assert "its queries on alpha_tag fail" in deletions[1]


def test_migration_of_ambiguous_stage_is_left_to_syzygy_e001(
    use_scenario: UseScenario,
) -> None:
    # Its RemoveField would be an error in a pre-deploy migration.
    use_scenario("ambiguous")
    migrate("alpha", "0001")
    assert lint() == []
    assert [message.id for message in run_checks(databases=["default"])] == [
        "syzygy.E001"
    ]


# New tables


def test_tables_new_to_the_database_need_no_care(use_scenario: UseScenario) -> None:
    use_scenario("lint_new_tables")
    # Created by the same migration, or by an unapplied one of the same stage;
    # the post-deploy migration alters a table the new code has written to.
    assert found(lint()) == [("syzygy.W004", "alpha.0007_alter_novel_title")]
    migrate("alpha", "0002")
    assert found(lint()) == [
        ("syzygy.W002", "alpha.0003_book_title_index"),
        ("syzygy.W007", "alpha.0004_rename_book_novel"),
        ("syzygy.W003", "alpha.0005_novel_title_unique"),
        ("syzygy.W008", "alpha.0006_delete_author"),
        ("syzygy.W004", "alpha.0007_alter_novel_title"),
    ]


def test_excluded_migrations_still_create_new_tables(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_new_tables")
    with override_settings(SYZYGY_LINT_EXCLUDE=["alpha.0002_book"]):
        assert found(lint()) == [("syzygy.W004", "alpha.0007_alter_novel_title")]


# Several databases


@pytest.mark.django_db(databases=["default", "second"], transaction=True)
def test_several_databases_report_each_migration_once(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_unsafe")
    for database in ("default", "second"):
        migrate("alpha", "0001", database=database)
        migrate("beta", "0001", database=database)
    assert found(lint(["default", "second"])) == UNSAFE
    migrate("alpha", "0004", database="default")
    # Still unapplied on the second database: reported, once.
    assert sorted(found(lint(["default", "second"]))) == sorted(UNSAFE)


@pytest.mark.django_db(databases=["default", "second"], transaction=True)
def test_each_database_has_its_own_new_tables(use_scenario: UseScenario) -> None:
    use_scenario("lint_new_tables")
    migrate("alpha", "0002", database="default")
    assert found(lint(["second"])) == [("syzygy.W004", "alpha.0007_alter_novel_title")]
    # The message of 0007 is the same on both.
    assert found(lint(["default", "second"])) == found(lint(["default"]))
    assert len(found(lint(["default"]))) == 5


class KeepAlphaOffTheDefaultDatabase:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if (db, app_label) == ("default", "alpha") else None


def test_models_the_routers_keep_off_the_database_are_not_linted(
    unsafe: None,
) -> None:
    with override_settings(DATABASE_ROUTERS=[KeepAlphaOffTheDefaultDatabase()]):
        assert found(lint()) == [UNSAFE[-1]]


# What syzygy writes, and other safe operations


def test_migrations_makemigrations_writes_are_silent(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_generated")
    assert lint() == []
    migrate("alpha", "0001")
    assert lint() == []
    with override_settings(SYZYGY_LINT_ERRORS=True):
        call_command("migrate", "alpha", skip_checks=False, verbosity=0)
    assert applied("alpha")[-1] == "0007_rename_author_bio_author_biography"


def test_safe_hand_written_operations_are_silent(use_scenario: UseScenario) -> None:
    # Metadata-only changes, renames that keep the column or the table,
    # nullable or database-computed columns, models without a table, and
    # constraints AddConstraintNotValid can't add either.
    use_scenario("lint_safe")
    migrate("alpha", "0001")
    assert lint() == []
    migrate("alpha", "0003")
    assert lint() == []


# Changes of column type


# Reviews recorded in migration files, and what the lint must not report


def test_reviews_silence_the_lint_where_they_are_recorded(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_reviewed")
    # On a new database the tables are new, even renamed: only the invalid
    # review remains.
    assert found(lint()) == [("syzygy.W009", "alpha.0006_author_rating_index")]
    migrate("alpha", "0001")
    messages = lint()
    assert found(messages) == [
        # 0002 is reviewed as a whole, the first index of 0003 alone.
        ("syzygy.W002", "alpha.0003_author_indexes"),
        # JSONField(default=dict), a function returning a literal and no
        # default at all give no row a value of its own.
        ("syzygy.W005", "alpha.0004_author_settings_author_token_author_score"),
        # RenameModel then AlterModelTable back: the table keeps its name.
        ("syzygy.W009", "alpha.0006_author_rating_index"),
        ("syzygy.W002", "alpha.0006_author_rating_index"),
    ]
    assert "'Create index author_rating_idx on field(s) rating" in messages[0].msg
    assert "token" in messages[1].msg
    assert messages[2].msg == (
        "The reviews of the Migration class of alpha.0006_author_rating_index are "
        "ignored: 'syzygy.W02' is not a lint id."
    )
    assert type(messages[2]) is Warning
    migrate("alpha")
    assert "alpha_publisher" in connections["default"].introspection.table_names()
    assert lint() == []


@pytest.mark.parametrize(
    ("ids", "reason", "problem"),
    [
        ((), "small", "no lint id is given"),
        (("syzygy.E001",), "small", "'syzygy.E001' is not a lint id"),
        (("syzygy.W002",), " ", "the reason for syzygy.W002 is ' ', not a non-empty"),
    ],
)
def test_reviewed_refuses_what_it_cant_record(
    ids: tuple[str, ...], reason: str, problem: str
) -> None:
    operation = migrations.AddIndex(
        "author", models.Index(fields=["name"], name="author_name_idx")
    )
    with pytest.raises(ValueError, match=r"^syzygy\.reviewed") as raised:
        syzygy.reviewed(operation, *ids, reason=reason)
    assert problem in str(raised.value)
    assert not hasattr(operation, "reviewed_checks")


def test_reviewed_records_the_reviews_on_the_operation() -> None:
    operation = syzygy.reviewed(
        syzygy.reviewed(
            migrations.AddIndex(
                "author", models.Index(fields=["name"], name="author_name_idx")
            ),
            "syzygy.W002",
            reason="tiny",
        ),
        "syzygy.W003",
        "syzygy.W002",
        reason="small",
    )
    assert operation.reviewed_checks == {
        "syzygy.W002": "small",
        "syzygy.W003": "small",
    }


def test_review_ids_are_the_lint_ids() -> None:
    assert LINT_IDS == IDS


def test_reviews_of_a_migration_must_be_a_dict() -> None:
    migration = Migration("0002_author_name_index", "alpha")
    migration.reviewed_checks = ["syzygy.W002"]  # type: ignore[attr-defined]
    assert reviews_of(migration) == (
        {},
        "reviewed_checks is list, not a dict mapping lint ids (syzygy.W002 to "
        "syzygy.W008) to the reason of the review, a non-empty string",
    )
    assert reviews_of(Migration("0001_initial", "alpha")) == ({}, None)


def test_tables_are_known_by_name_and_swapped_models_have_none(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_moved")
    # beta's Checkin is alpha's table, created and renamed by the same plan.
    assert lint() == []
    migrate("alpha", "0001")
    assert found(lint()) == [
        ("syzygy.W002", "alpha.0003_token_key_index"),
        ("syzygy.W002", "beta.0002_checkin_code_index"),
    ]
    with override_settings(SYZYGY_TEST_TOKEN_MODEL="beta.Checkin"):
        assert found(lint()) == [("syzygy.W002", "beta.0002_checkin_code_index")]
    with override_settings(SYZYGY_TEST_TOKEN_MODEL="alpha.Token"):
        assert len(lint()) == 2
    # The table SeparateDatabaseAndState creates exists once it is applied.
    migrate("beta", "0003")
    assert found(lint()) == [
        ("syzygy.W002", "alpha.0003_token_key_index"),
        ("syzygy.W002", "beta.0004_shelf_name_index"),
    ]


def test_a_model_renamed_in_the_state_keeps_its_table(
    use_scenario: UseScenario,
) -> None:
    use_scenario("lint_renamed")
    migrate("alpha", "0001")
    # No rename to report; the index is built on the table that exists.
    messages = lint()
    assert found(messages) == [("syzygy.W002", "alpha.0003_writer_name_index")]
    assert "alpha_author" in messages[0].msg
