from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from syzygy import Stage

from .catalogue import table_columns, table_names

Scenario = Callable[[str], None]


def migrate(*args: str, **options: Any) -> str:
    stdout = StringIO()
    call_command("migrate", *args, stdout=stdout, no_color=True, **options)
    return stdout.getvalue()


def applied(app_label: str) -> list[str]:
    recorder = MigrationRecorder(connection)
    return sorted(
        name for app, name in recorder.applied_migrations() if app == app_label
    )


def test_pre_deploy_applies_pre_deploy_migrations_only(use_scenario: Scenario) -> None:
    use_scenario("staged")
    output = migrate("alpha", pre_deploy=True)
    assert applied("alpha") == ["0001_initial", "0002_author_rating"]
    assert "bio" in table_columns("alpha_author")
    assert (
        "Postponed until after the deploy:\n  alpha.0003_remove_author_bio\n" in output
    )
    # The next deploy step applies the rest.
    output = migrate("alpha")
    assert applied("alpha") == [
        "0001_initial",
        "0002_author_rating",
        "0003_remove_author_bio",
    ]
    assert "bio" not in table_columns("alpha_author")
    assert "Postponed" not in output


def test_pre_deploy_is_idempotent(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", pre_deploy=True)
    output = migrate("alpha", pre_deploy=True)
    assert "No migrations to apply." in output
    assert applied("alpha") == ["0001_initial", "0002_author_rating"]


def test_pre_deploy_reverting_postpones_pre_deploy_migrations(
    use_scenario: Scenario,
) -> None:
    use_scenario("staged")
    migrate("alpha")
    # Reverting the removal restores the column before the old code returns;
    # reverting the addition waits for the new code to be gone.
    migrate("alpha", "0001", pre_deploy=True)
    assert applied("alpha") == ["0001_initial", "0002_author_rating"]
    assert "bio" in table_columns("alpha_author")
    assert "rating" in table_columns("alpha_author")
    migrate("alpha", "0001")
    assert applied("alpha") == ["0001_initial"]


def test_pre_deploy_plan_shows_stages_and_postponed_migrations(
    use_scenario: Scenario,
) -> None:
    use_scenario("staged")
    migrate("alpha", "0001")
    output = migrate("alpha", pre_deploy=True, plan=True)
    assert output == (
        "Planned operations:\n"
        "alpha.0002_author_rating  [pre-deploy, inferred]\n"
        "    Add field rating to author\n"
        "Postponed until after the deploy:\n"
        "alpha.0003_remove_author_bio  [post-deploy, inferred]\n"
        "    Remove field bio from author\n"
    )
    assert applied("alpha") == ["0001_initial"]


def test_plan_shows_stage_origins(use_scenario: Scenario) -> None:
    use_scenario("staged")
    with override_settings(
        MIGRATION_STAGES_OVERRIDE={"alpha.0001_initial": Stage.PRE_DEPLOY},
        MIGRATION_STAGES_FALLBACK={"alpha": Stage.POST_DEPLOY},
    ):
        output = migrate("alpha", plan=True)
    assert "alpha.0001_initial  [pre-deploy, override]\n" in output
    assert "alpha.0002_author_rating  [pre-deploy, inferred]\n" in output
    assert "alpha.0003_remove_author_bio  [post-deploy, inferred]\n" in output
    assert "Postponed" not in output


def test_plan_shows_defined_and_ambiguous_stages(use_scenario: Scenario) -> None:
    use_scenario("ambiguous")
    output = migrate("alpha", plan=True)
    assert "alpha.0002_mixed  [ambiguous stage]\n" in output
    assert "alpha.0003_defined  [post-deploy, defined]\n" in output


def test_plan_shows_reverted_stages(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha")
    output = migrate("alpha", "0001", plan=True)
    assert (
        "alpha.0003_remove_author_bio  "
        "[pre-deploy, reverting a post-deploy migration, inferred]\n"
    ) in output
    assert (
        "alpha.0002_author_rating  "
        "[post-deploy, reverting a pre-deploy migration, inferred]\n"
    ) in output
    assert "    Undo Remove field bio from author\n" in output


def test_plan_shows_migrations_following_the_plan(use_scenario: Scenario) -> None:
    use_scenario("stageless")
    migrate("alpha", "0001")
    output = migrate("alpha", plan=True, pre_deploy=True)
    assert (
        "alpha.0003_checkpoint  [post-deploy, no operations, follows "
        "alpha.0002_remove_author_bio]\n"
    ) in output


def test_plan_with_check_exits_non_zero_when_migrations_are_pending(
    use_scenario: Scenario,
) -> None:
    use_scenario("staged")
    migrate("alpha", "0002")
    with pytest.raises(SystemExit) as exited:
        migrate("alpha", plan=True, check_unapplied=True)
    assert exited.value.code == 1
    # Nothing is pending before the deploy.
    migrate("alpha", plan=True, check_unapplied=True, pre_deploy=True)


def test_plan_without_pending_migrations(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", pre_deploy=True)
    output = migrate("alpha", plan=True, pre_deploy=True)
    assert output.startswith(
        "Planned operations:\n  No planned migration operations.\n"
    )
    assert "alpha.0003_remove_author_bio  [post-deploy, inferred]" in output


def test_pre_deploy_rejects_a_plan_that_depends_on_a_postponed_migration(
    use_scenario: Scenario,
) -> None:
    use_scenario("cross_app")
    migrate("alpha", "0001")
    migrate("beta", "0001")
    for options in ({}, {"plan": True}):
        with pytest.raises(CommandError) as raised:
            migrate(pre_deploy=True, **options)
        message = str(raised.value)
        assert "applying beta.0002_book_pages runs pre-deploy (inferred" in message
        assert (
            "depends on applying alpha.0002_remove_author_bio, which runs post-deploy"
            in (message)
        )
    # Nothing was applied.
    assert applied("alpha") == ["0001_initial"]
    assert applied("beta") == ["0001_initial"]


def test_a_pending_post_deploy_step_of_an_earlier_release_is_caught_up_as_told(
    use_scenario: Scenario,
) -> None:
    """The release that removed alpha's bio ran its pre-deploy step only; the
    next release adds beta's pages on top of the removal."""
    use_scenario("cross_app")
    migrate("alpha", "0001")
    migrate("beta", "0001")
    with pytest.raises(CommandError) as raised:
        migrate(pre_deploy=True)
    message = str(raised.value)
    assert (
        "alpha.0002_remove_author_bio is not applied: either the post-deploy "
        "`migrate` of an earlier release that brought it never ran on this "
        "database, or it is new in this release."
    ) in message
    command = "python manage.py migrate alpha 0002_remove_author_bio"
    assert f"run `{command}` (its post-deploy step)" in message
    # Catching up as told, then deploying the next release.
    migrate(*command.split()[3:])
    output = migrate(pre_deploy=True)
    assert "Applying beta.0002_book_pages... OK" in output
    assert applied("alpha") == ["0001_initial", "0002_remove_author_bio"]
    assert applied("beta") == ["0001_initial", "0002_book_pages"]


def test_pre_deploy_reports_ambiguous_stage_as_command_error(
    use_scenario: Scenario,
) -> None:
    use_scenario("ambiguous")
    migrate("alpha", "0001")
    with pytest.raises(
        CommandError,
        match=r"^Cannot automatically determine stage of alpha\.0002_mixed: it mixes",
    ):
        migrate("alpha", pre_deploy=True)
    assert applied("alpha") == ["0001_initial"]


def test_pre_deploy_applies_the_whole_plan_on_a_database_without_recorded_migrations(
    use_scenario: Scenario, unrecorded_database: None
) -> None:
    use_scenario("staged")
    output = migrate("alpha", pre_deploy=True, plan=True)
    assert output.startswith(
        "No migration is recorded on database 'default': there is no deployed "
        "code to protect, so the whole plan is applied.\n"
    )
    assert "alpha.0003_remove_author_bio  [post-deploy, inferred]" in output
    assert "Postponed" not in output
    assert migrate("alpha", pre_deploy=True, verbosity=0) == ""
    assert applied("alpha") == [
        "0001_initial",
        "0002_author_rating",
        "0003_remove_author_bio",
    ]
    assert "alpha_author" in table_names()


def test_pre_deploy_reports_postponed_migrations_with_a_replaced_target(
    use_scenario: Scenario,
) -> None:
    use_scenario("squashed")
    migrate("alpha")
    assert applied("alpha") == [
        "0001_initial",
        "0001_squashed_0002_author_rating",
        "0002_author_rating",
        "0003_remove_author_bio",
    ]
    # Reverting to a migration the squashed one replaces: Django plans twice.
    plan = migrate("alpha", "0001_initial", pre_deploy=True, plan=True)
    postponed = plan.split("Postponed until after the deploy:\n")[1]
    output = migrate("alpha", "0001_initial", pre_deploy=True)
    assert "Postponed until after the deploy:\n" in output
    for line in postponed.splitlines():
        if not line.startswith(" "):
            assert f"  {line.split('  [')[0]}\n" in output


def test_pre_deploy_check_reports_nothing_postponed(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", pre_deploy=True)
    output = migrate("alpha", pre_deploy=True, check_unapplied=True)
    assert "Postponed" not in output


# An explicit stage is the user's decision.

EXPLICIT_STAGES = {
    "MIGRATION_STAGES_OVERRIDE": {"alpha.0003_remove_author_city": Stage.PRE_DEPLOY},
    "MIGRATION_STAGES_FALLBACK": {
        "alpha.0004_author_rating_remove_author_country": Stage.PRE_DEPLOY
    },
}


def test_pre_deploy_applies_removals_given_the_pre_deploy_stage_with_warnings(
    use_scenario: Scenario,
) -> None:
    """As in django-syzygy 1.x, a stage that is set bypasses the heuristics:
    Migration.stage, MIGRATION_STAGES_OVERRIDE and MIGRATION_STAGES_FALLBACK
    make removals pre-deploy; the lint warns about each (syzygy.W008)."""
    use_scenario("explicit_stages")
    migrate("alpha", "0001", verbosity=0)
    stderr = StringIO()
    with override_settings(**EXPLICIT_STAGES):
        output = migrate("alpha", pre_deploy=True, skip_checks=False, stderr=stderr)
    assert applied("alpha") == [
        "0001_initial",
        "0002_remove_author_nickname",
        "0003_remove_author_city",
        "0004_author_rating_remove_author_country",
    ]
    assert set(table_columns("alpha_author")) == {"id", "name", "rating"}
    assert "Postponed" not in output
    warnings = stderr.getvalue()
    for migration, field in [
        ("0002_remove_author_nickname", "nickname"),
        ("0003_remove_author_city", "city"),
        ("0004_author_rating_remove_author_country", "country"),
    ]:
        assert (
            f"(syzygy.W008) In alpha.{migration}, 'Remove field {field} from author' "
            f"drops the field author.{field} before the deploy"
        ) in warnings


def test_lint_errors_block_removals_given_the_pre_deploy_stage(
    use_scenario: Scenario,
) -> None:
    use_scenario("explicit_stages")
    migrate("alpha", "0001", verbosity=0)
    with (
        override_settings(SYZYGY_LINT_ERRORS=True, **EXPLICIT_STAGES),
        pytest.raises(CommandError, match=r"syzygy\.W008"),
    ):
        migrate("alpha", pre_deploy=True, skip_checks=False)
    assert applied("alpha") == ["0001_initial"]


# Plans for tooling: --format json and --sql.


def plan_document(*args: str, **options: Any) -> dict[str, Any]:
    output = migrate(*args, plan=True, format="json", **options)
    document: dict[str, Any] = json.loads(output)
    return document


STEP_KEYS = {
    "app",
    "name",
    "stage",
    "origin",
    "follows",
    "backwards",
    "atomic",
    "operations",
}


def test_pre_deploy_plan_as_json(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", "0001")
    document = plan_document("alpha", pre_deploy=True)
    assert document == {
        "database": "default",
        "stage": "pre-deploy",
        "planned": [
            {
                "app": "alpha",
                "name": "0002_author_rating",
                "stage": "pre-deploy",
                "origin": "inferred",
                "follows": None,
                "backwards": False,
                "atomic": True,
                "operations": ["Add field rating to author"],
            }
        ],
        "postponed": [
            {
                "app": "alpha",
                "name": "0003_remove_author_bio",
                "stage": "post-deploy",
                "origin": "inferred",
                "follows": None,
                "backwards": False,
                "atomic": True,
                "operations": ["Remove field bio from author"],
            }
        ],
    }
    assert applied("alpha") == ["0001_initial"]


def test_full_plan_as_json(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", "0001")
    document = plan_document("alpha")
    assert document["stage"] == "post-deploy"
    assert [(step["name"], step["stage"]) for step in document["planned"]] == [
        ("0002_author_rating", "pre-deploy"),
        ("0003_remove_author_bio", "post-deploy"),
    ]
    assert document["postponed"] == []


def test_reverse_plan_as_json(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha")
    document = plan_document("alpha", "0001", pre_deploy=True)
    [planned] = document["planned"]
    assert planned["name"] == "0003_remove_author_bio"
    assert planned["backwards"] is True
    assert planned["stage"] == "pre-deploy"
    assert planned["operations"] == ["Undo Remove field bio from author"]
    [postponed] = document["postponed"]
    assert (postponed["name"], postponed["stage"], postponed["backwards"]) == (
        "0002_author_rating",
        "post-deploy",
        True,
    )


def test_json_plan_names_ambiguous_stages_and_followed_steps(
    use_scenario: Scenario,
) -> None:
    use_scenario("ambiguous")
    steps = {step["name"]: step for step in plan_document("alpha")["planned"]}
    assert set(steps["0002_mixed"]) == STEP_KEYS
    assert (steps["0002_mixed"]["stage"], steps["0002_mixed"]["origin"]) == (
        None,
        "ambiguous",
    )
    assert steps["0003_defined"]["origin"] == "defined"
    use_scenario("stageless")
    migrate("alpha", "0001")
    [checkpoint] = [
        step
        for step in plan_document("alpha", pre_deploy=True)["postponed"]
        if step["name"] == "0003_checkpoint"
    ]
    assert checkpoint["origin"] == "no operations"
    assert checkpoint["follows"] == "alpha.0002_remove_author_bio"


def test_json_plan_is_alone_on_standard_output(
    use_scenario: Scenario, unrecorded_database: None
) -> None:
    use_scenario("staged")
    stderr = StringIO()
    document = plan_document("alpha", pre_deploy=True, sql=True, stderr=stderr)
    # No migration recorded: the whole plan is applied, and it says so aside.
    assert document["stage"] == "post-deploy"
    assert len(document["planned"]) == 3
    assert any("CREATE TABLE" in line for line in document["planned"][0]["sql"])
    assert "there is no deployed code to protect" in stderr.getvalue()


def test_json_plan_errors_exit_non_zero_with_the_message(
    use_scenario: Scenario,
) -> None:
    use_scenario("cross_app")
    migrate("alpha", "0001")
    migrate("beta", "0001")
    with pytest.raises(CommandError, match=r"depends on applying alpha\.0002"):
        plan_document(pre_deploy=True)


def test_json_plan_with_check_exits_non_zero_after_the_document(
    use_scenario: Scenario,
) -> None:
    use_scenario("staged")
    stdout = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "migrate",
            "alpha",
            plan=True,
            format="json",
            check_unapplied=True,
            stdout=stdout,
        )
    assert exited.value.code == 1
    assert len(json.loads(stdout.getvalue())["planned"]) == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "json"}, "--format json shows the plan: add --plan."),
        ({"sql": True}, "--sql shows the plan: add --plan."),
        (
            {"plan": True, "format": "yaml"},
            "--format must be one of text, json, not 'yaml'.",
        ),
    ],
)
def test_plan_options_are_checked(
    use_scenario: Scenario, options: dict[str, Any], message: str
) -> None:
    use_scenario("staged")
    with pytest.raises(CommandError) as raised:
        migrate("alpha", **options)
    assert str(raised.value) == message
    assert applied("alpha") == []


def test_plan_shows_the_sql_of_each_planned_migration(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha", "0001")
    output = migrate("alpha", pre_deploy=True, plan=True, sql=True)
    planned, postponed = output.split("Postponed until after the deploy:\n")
    lines = planned.splitlines()
    assert lines[:2] == [
        "Planned operations:",
        "alpha.0002_author_rating  [pre-deploy, inferred]",
    ]
    sql = [line.removeprefix("    ") for line in lines[2:]]
    assert sql[0] == "BEGIN;"
    assert sql[-1] == "COMMIT;"
    assert "-- Add field rating to author" in sql
    [add_column] = [line for line in sql if "ADD COLUMN" in line]
    assert '"rating"' in add_column
    if connection.vendor == "postgresql":
        assert sql[1] == "SET LOCAL lock_timeout = 200;"
    else:
        assert not any("SET LOCAL" in line for line in sql)
    # The SQL is that of sqlmigrate.
    sqlmigrate = StringIO()
    call_command("sqlmigrate", "alpha", "0002", stdout=sqlmigrate, no_color=True)
    assert sqlmigrate.getvalue().splitlines()[1:] == sql
    # Postponed migrations run later: their operations are described.
    assert postponed == (
        "alpha.0003_remove_author_bio  [post-deploy, inferred]\n"
        "    Remove field bio from author\n"
    )


def test_plan_sql_follows_the_state_of_the_plan(use_scenario: Scenario) -> None:
    """Each migration's SQL is made from the state the ones before it leave,
    across apps, as migrate applies them."""
    use_scenario("cross_app")
    document = plan_document(sql=True)
    steps = {(step["app"], step["name"]): step["sql"] for step in document["planned"]}
    assert set(steps) == {
        ("alpha", "0001_initial"),
        ("alpha", "0002_remove_author_bio"),
        ("beta", "0001_initial"),
        ("beta", "0002_book_pages"),
    }
    assert any('"bio"' in line for line in steps["alpha", "0002_remove_author_bio"])
    assert any('"pages"' in line for line in steps["beta", "0002_book_pages"])
    assert all("sql" not in step for step in document["postponed"])


def test_plan_sql_of_a_reverse_plan(use_scenario: Scenario) -> None:
    use_scenario("staged")
    migrate("alpha")
    document = plan_document("alpha", "0001", sql=True)
    sql = {step["name"]: "\n".join(step["sql"]) for step in document["planned"]}
    assert "-- Remove field bio from author" in sql["0003_remove_author_bio"]
    assert '"bio"' in sql["0003_remove_author_bio"]
    assert "DROP COLUMN" in sql["0002_author_rating"]


def test_plan_sql_marks_what_cannot_be_reverted(use_scenario: Scenario) -> None:
    use_scenario("irreversible")
    migrate("alpha")
    [step] = plan_document("alpha", "0001", sql=True)["planned"]
    assert step["operations"] == ["Raw Python operation -> IRREVERSIBLE"]
    assert step["sql"][-2].startswith("-- IRREVERSIBLE: Operation <RunPython")
    assert applied("alpha") == ["0001_initial", "0002_name_authors"]
    # The test leaves nothing behind.
    migrate("alpha", "0001", fake=True)


def test_plan_sql_says_how_non_atomic_migrations_run(use_scenario: Scenario) -> None:
    use_scenario("locks")
    output = migrate("alpha", plan=True, sql=True)
    non_atomic = output.split("alpha.0003_non_atomic  [pre-deploy, inferred]\n")[1]
    first = non_atomic.splitlines()[0]
    if connection.vendor == "postgresql":
        assert first.startswith("    -- Not atomic: each statement runs in a ")
    else:
        assert first == "    --"
    assert "BEGIN;" not in non_atomic


def test_plan_sql_of_a_migration_that_reads_the_database_first(
    use_scenario: Scenario,
) -> None:
    """RenameIndex of unnamed indexes finds its index in the database: before
    the migration that creates the table runs, there is none to find."""
    use_scenario("introspecting")
    steps = plan_document("alpha", sql=True)["planned"]
    assert [step["name"] for step in steps] == [
        "0001_initial",
        "0002_rename_author_rank_index",
        "0003_author_bio",
    ]
    assert any("CREATE TABLE" in line for line in steps[0]["sql"])
    [comment] = [line for line in steps[1]["sql"] if line.startswith("--")]
    assert comment == (
        "-- Its SQL can't be collected before the migrations before it are "
        "applied: Found wrong number (0) of indexes for alpha_author(rank)."
    )
    # The migrations after it start from the state it leaves.
    assert any('"bio"' in line for line in steps[2]["sql"])
    # Once the table exists, its SQL can be shown.
    migrate("alpha", "0001")
    [step, _] = plan_document("alpha", sql=True)["planned"]
    assert any("author_rank_idx" in line for line in step["sql"])
