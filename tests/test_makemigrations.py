"""``makemigrations`` splits unsafe changes into safe pre/post-deploy pairs.

Each rule runs the real command on a case app, checks the written
migrations, then applies them forwards and backwards on the database of the
run (SQLite or PostgreSQL) and, where it matters, uses the old and the new
models around the deploy.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management.base import CommandError
from django.core.management.commands import makemigrations
from django.db import connection, connections
from django.db.migrations.autodetector import (
    MigrationAutodetector as DjangoMigrationAutodetector,
)
from django.test.utils import override_settings

from syzygy import Stage
from syzygy import autodetector as syzygy_autodetector
from syzygy import operations as syzygy_operations
from syzygy.autodetector import StageAwareAutodetectorMixin
from syzygy.management.commands.makemigrations import StageAwareMakemigrationsMixin
from syzygy.plan import migration_stage

from .catalogue import table_columns, table_names
from .makemigrations_harness import Case

OpenCase = Callable[[str], Case]


def stages(case: Case) -> list[Stage | None]:
    return [migration_stage(case.migration(name)).stage for name in case.written()]


def operation_types(case: Case, name: str) -> list[str]:
    return [
        f"{type(operation).__module__.split('.')[0]}.{type(operation).__name__}"
        for operation in case.migration(name).operations
    ]


def default_of(table: str, column: str) -> str | None:
    return table_columns(table)[column].default


def assert_clean(case: Case) -> None:
    """Assert the written migrations pass the stage check."""
    assert run_checks(databases=["default"]) == []
    assert "No changes detected" in case.makemigrations("--check", "--dry-run").stdout


# Adding a NOT NULL field with a default


def test_add_not_null_field_is_split_into_pre_and_post_deploy(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_not_null")

    dry_run = case.makemigrations("--dry-run")
    assert dry_run.status == 0
    assert case.written() == []
    lines = dry_run.stdout.splitlines()
    assert lines[1].endswith(
        "0002_author_fans_author_nickname_author_publisher_and_more.py  [pre-deploy]"
    )
    assert "    ~ Drop database DEFAULT of field rating on author" in lines
    # The foreign key's constraint and index come after its column, in a
    # non-atomic migration: lock-safe on PostgreSQL.
    assert lines[8].endswith("0003_alter_author_publisher.py  [pre-deploy]")
    assert lines[10].endswith(
        "0004_drop_db_default_author_publisher_and_more.py  [post-deploy]"
    )

    assert case.makemigrations().stdout == dry_run.stdout
    pre, lock_safe, post = case.written()
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    assert operation_types(case, lock_safe) == ["syzygy.AlterFieldConcurrently"]
    assert "    atomic = False\n" in case.source(lock_safe)
    assert case.migration(lock_safe).atomic is False
    assert "db_constraint=False, db_index=False, default=1" in case.source(pre)
    assert operation_types(case, pre) == [
        "django.AddField",  # fans: many-to-many
        "django.AddField",  # nickname: nullable
        "syzygy.AddField",  # publisher: foreign key with a default
        "syzygy.AddField",  # rating
        "django.AddField",  # score: has a db_default
        "syzygy.AddField",  # updated: auto_now
    ]
    assert operation_types(case, post) == ["syzygy.PostAddField"] * 3
    assert "syzygy.operations.AddField(" in case.source(pre)
    assert "db_default=django.db.models.functions.datetime.Now()" in case.source(pre)
    assert_clean(case)

    # Forwards: the pre-deploy migrations keep database defaults...
    case.migrate("0003")
    assert "42" in str(default_of("add_not_null_author", "rating"))
    assert "1" in str(default_of("add_not_null_author", "publisher_id"))
    assert default_of("add_not_null_author", "updated") is not None
    # ...which the post-deploy one drops, except the declared db_default.
    case.migrate("0004")
    assert default_of("add_not_null_author", "rating") is None
    assert default_of("add_not_null_author", "publisher_id") is None
    assert default_of("add_not_null_author", "updated") is None
    assert "7" in str(default_of("add_not_null_author", "score"))
    # Backwards.
    case.migrate("0003")
    assert "42" in str(default_of("add_not_null_author", "rating"))
    case.migrate("0001")
    assert "rating" not in table_columns("add_not_null_author")


def test_add_not_null_field_keeps_old_code_working_during_the_deploy(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_not_null")
    case.makemigrations()
    case.migrate("0001")
    OldPublisher, OldAuthor = case.old_models("Publisher", "Author")
    OldPublisher.objects.create(pk=1, name="Penguin")
    OldAuthor.objects.create(name="before")

    case.migrate(pre_deploy=True)
    assert case.applied() == ["0001_initial", *case.written()[:2]]
    # The old code: INSERT, SELECT, UPDATE without the new columns.
    old = OldAuthor.objects.create(name="old code")
    assert OldAuthor.objects.get(pk=old.pk).name == "old code"
    OldAuthor.objects.filter(pk=old.pk).update(name="old code, updated")
    # The new code, beside it.
    Author = case.new_model("Author")
    new = Author.objects.create(name="new code", score=1)
    assert new.rating == 42
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, rating, publisher_id FROM add_not_null_author ORDER BY id"
        )
        assert cursor.fetchall() == [
            ("before", 42, 1),
            ("old code, updated", 42, 1),
            ("new code", 42, 1),
        ]

    case.migrate()
    new = Author.objects.create(name="after", rating=5)
    Author.objects.filter(pk=new.pk).update(rating=6)
    assert Author.objects.get(pk=new.pk).rating == 6


def test_add_auto_now_add_field_gets_a_database_now_default(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_auto_now_add")
    # Django asks for a value for the existing rows.
    case.answers = ["1", "timezone.now"]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 0, outcome.stderr
    pre, post = case.written()
    (add_field,) = case.migration(pre).operations
    assert isinstance(add_field, syzygy_operations.AddField)
    assert add_field.preserve_default is False
    assert "db_default=django.db.models.functions.datetime.Now()" in case.source(pre)
    assert operation_types(case, post) == ["syzygy.PostAddField"]
    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    case.migrate(pre_deploy=True)
    # Rows inserted by the old code get the time of their insertion.
    old = OldAuthor.objects.create(name="old code")
    Author = case.new_model("Author")
    assert Author.objects.get(pk=old.pk).joined is not None
    case.migrate()
    assert default_of("add_auto_now_add_author", "joined") is None
    case.migrate("0001")


def test_add_field_with_a_volatile_default_is_backfilled_row_by_row(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_volatile")
    outcome = case.makemigrations()
    assert outcome.stdout.splitlines()[-1] == (
        "    ~ Fill field token on author row by row, then make it NOT NULL"
    )
    pre, post = case.written()
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    assert operation_types(case, pre) == ["django.AddField"]
    assert "field=models.UUIDField(null=True)" in case.source(pre)
    assert operation_types(case, post) == ["syzygy.BackfillField"]
    assert case.migration(post).atomic is False
    assert_clean(case)

    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    OldAuthor.objects.bulk_create(OldAuthor(name=f"before {n}") for n in range(5))
    case.migrate(pre_deploy=True)
    # Old code keeps inserting rows without the column; new code beside it.
    OldAuthor.objects.create(name="old code")
    Author = case.new_model("Author")
    Author.objects.create(name="new code")
    case.migrate()
    tokens = list(Author.objects.values_list("token", flat=True))
    assert len(tokens) == 7
    assert None not in tokens
    assert len(set(tokens)) == 7
    assert table_columns("add_volatile_author")["token"].null_ok is False
    case.migrate("0001")


# Removing a field


def test_remove_field_is_split_into_pre_and_post_deploy(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("remove_field")
    outcome = case.makemigrations()
    assert (
        "The column of the removed field 'name' of author is made NULLable until it "
        "is removed."
    ) in outcome.stdout
    pre, post = case.written()
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    # No step before removing a nullable field; a many-to-many field's table
    # loses its foreign key constraints.
    assert [operation.describe() for operation in case.migration(pre).operations] == [
        "Set field name of author NULLable",
        "Set database DEFAULT of field nickname on author",
        "Alter field tags on author (pre-deploy)",
    ]
    assert "db_constraint=False" in case.source(pre)
    assert sorted(operation.name for operation in case.migration(post).operations) == [
        "bio",
        "name",
        "nickname",
        "tags",
    ]
    assert_clean(case)

    case.migrate("0001")
    OldAuthor, OldTag = case.old_models("Author", "Tag")
    OldAuthor.objects.create(title="before", name="n", nickname="x")
    case.migrate(pre_deploy=True)
    assert table_columns("remove_field_author")["name"].null_ok
    assert "anon" in str(default_of("remove_field_author", "nickname"))
    # The old code still writes every field; the new code none of them.
    old = OldAuthor.objects.create(title="old", name="old name", nickname="o")
    OldAuthor.objects.filter(pk=old.pk).update(name="renamed")
    assert OldAuthor.objects.get(pk=old.pk).name == "renamed"
    Author = case.new_model("Author")
    new = Author.objects.create(title="new")
    assert OldAuthor.objects.get(pk=new.pk).nickname == "anon"
    assert OldAuthor.objects.get(pk=new.pk).name is None
    # The new code deletes a tag the old code gave an author.
    tag = OldTag.objects.create(name="gone")
    OldAuthor.objects.get(pk=old.pk).tags.add(tag)
    case.new_model("Tag").objects.filter(pk=tag.pk).delete()

    case.migrate()
    assert {"name", "nickname", "bio"}.isdisjoint(table_columns("remove_field_author"))
    Author.objects.filter(pk=new.pk).update(title="newer")
    assert Author.objects.get(pk=new.pk).title == "newer"

    # Reverting restores the columns; rows without a value need one.
    Author.objects.all().delete()
    case.migrate("0002")
    case.migrate("0001")
    assert not table_columns("remove_field_author")["name"].null_ok


def test_remove_field_interactive_one_off_default(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("remove_field")
    case.answers = ["1", "'unknown'"]
    outcome = case.makemigrations(interactive=True)
    assert "It is impossible to remove the non-nullable field 'name'" in outcome.stdout
    pre, _ = case.written()
    name_operation = case.migration(pre).operations[0]
    assert name_operation.describe() == "Set database DEFAULT of field name on author"
    assert "syzygy.operations.PreRemoveField(" in case.source(pre)
    assert "default='unknown'" in case.source(pre)
    case.migrate(pre_deploy=True)
    assert "unknown" in str(default_of("remove_field_author", "name"))
    case.migrate()


def test_remove_field_interactive_nullable(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("remove_field")
    case.answers = ["2"]
    assert case.makemigrations(interactive=True).status == 0
    pre, _ = case.written()
    assert case.migration(pre).operations[0].describe() == (
        "Set field name of author NULLable"
    )


# NULL to NOT NULL


def test_null_to_not_null_is_post_deploy(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("not_null")
    outcome = case.makemigrations()
    assert outcome.stdout.splitlines()[1].endswith(
        "0002_alter_author_bio.py  [post-deploy]"
    )
    (name,) = case.written()
    (alter,) = case.migration(name).operations
    assert isinstance(alter, syzygy_operations.AlterFieldConcurrently)
    assert alter.stage is Stage.POST_DEPLOY
    assert case.migration(name).atomic is False
    assert_clean(case)

    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    case.migrate(pre_deploy=True)
    assert case.applied() == ["0001_initial"]
    old = OldAuthor.objects.create(bio=None)
    case.migrate()
    assert not table_columns("not_null_author")["bio"].null_ok
    Author = case.new_model("Author")
    assert Author.objects.get(pk=old.pk).bio == ""
    Author.objects.create(bio="new")
    case.migrate("0001")
    assert table_columns("not_null_author")["bio"].null_ok


def test_null_to_not_null_fills_existing_nulls_with_a_one_off_default(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("not_null_one_off")
    # Django asks for a value for the rows that are NULL.
    case.answers = ["1", "'unknown'"]
    assert case.makemigrations(interactive=True).status == 0
    (name,) = case.written()
    (alter,) = case.migration(name).operations
    assert isinstance(alter, syzygy_operations.AlterFieldConcurrently)
    assert alter.preserve_default is False
    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    old = OldAuthor.objects.create(bio=None)
    case.migrate()
    Author = case.new_model("Author")
    assert Author.objects.get(pk=old.pk).bio == "unknown"
    assert not table_columns("not_null_one_off_author")["bio"].null_ok
    assert default_of("not_null_one_off_author", "bio") is None
    case.migrate("0001")


# Lock-safe indexes and constraints on existing tables


def test_indexes_and_constraints_of_existing_tables_are_lock_safe(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("lock_safe")
    case.makemigrations()
    new_table, lock_safe = case.written()
    # A table created now needs none of it...
    assert operation_types(case, new_table) == ["django.CreateModel"]
    assert "name='book_title_idx'" in case.source(new_table)
    assert "name='book_title_unique'" in case.source(new_table)
    # ...existing ones get it, in a non-atomic migration.
    assert operation_types(case, lock_safe) == [
        "syzygy.RemoveIndexConcurrently",
        "syzygy.AlterFieldConcurrently",  # unique=True
        "syzygy.AlterFieldConcurrently",  # db_index=True
        "syzygy.AddIndexConcurrently",
        "syzygy.AddConstraintNotValid",  # check
        "syzygy.AddConstraintNotValid",  # unique
    ]
    assert "    atomic = False\n" in case.source(lock_safe)
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.PRE_DEPLOY]
    assert_clean(case)

    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    OldAuthor.objects.create(name="Ann", code="a", rating=1)
    case.migrate()
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "lock_safe_author")
    assert "rating_idx" not in found
    assert found["name_rating_idx"]["index"]
    assert found["rating_positive"]["check"]
    assert found["name_code_unique"]["unique"]
    assert any(
        details["unique"] and details["columns"] == ["code"]
        for details in found.values()
    )
    assert any(
        details["index"] and details["columns"] == ["name"]
        for details in found.values()
    )
    case.migrate("0001")
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "lock_safe_author")
    assert "rating_idx" in found
    assert "rating_positive" not in found


# Type changes


def test_type_change_that_narrows_the_column_is_refused_with_a_recipe(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change_narrowing")
    outcome = case.makemigrations()
    assert outcome.status == 3
    assert outcome.stderr.strip() == (
        "To change the type of type_change_narrowing.author.rating from "
        "IntegerField to SmallIntegerField without locking the table: add a new "
        "field of the new type (NULLable), deploy code that writes both, copy the "
        "values over in batches (syzygy.batches.run_in_batches), deploy code that "
        "reads the new field, then remove the old one. Or run makemigrations "
        "interactively and give the SQL expression that converts the values: the "
        "type then changes without a table rewrite, in an expand and a contract "
        "migration."
    )
    assert case.written() == []


def test_type_change_with_a_conversion_given_is_an_expand_and_a_contract(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change_narrowing")
    case.answers = ["1", "LEAST({column}, 32767)::smallint", ""]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 0
    assert (
        " 1) Give the conversion, an SQL expression, and change the type without "
        "rewriting the table"
    ) in outcome.stdout
    assert "Give the SQL expression that converts a value of " in outcome.stdout
    assert "The expression must contain {column}" not in outcome.stdout
    _, expand, contract = case.written()
    assert "conversion='LEAST({column}, 32767)::smallint'," in case.source(expand)
    assert "conversion='LEAST({column}, 32767)::smallint'," in case.source(contract)
    assert "reverse_conversion" not in case.source(expand)
    case.migrate()
    case.migrate("0001")


def test_a_conversion_without_the_placeholder_is_asked_again(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change_narrowing")
    case.answers = ["1", "rating::smallint", "{column}::smallint", "{column}"]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 0
    assert outcome.stdout.count("The expression must contain {column}") == 1
    _, expand, _ = case.written()
    assert "reverse_conversion='{column}'," in case.source(expand)


def test_type_change_that_widens_the_column_is_an_expand_and_a_contract(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change")
    outcome = case.makemigrations()
    assert outcome.status == 0
    written = case.written()
    assert written == [
        "0002_alter_author_name",
        "0003_alter_author_rating_expand",
        "0004_alter_author_rating_contract",
    ]
    assert operation_types(case, written[1]) == ["syzygy.ExpandAlterField"]
    assert operation_types(case, written[2]) == ["syzygy.ContractAlterField"]
    assert "0003_alter_author_rating_expand.py  [pre-deploy]" in outcome.stdout
    assert "0004_alter_author_rating_contract.py  [post-deploy]" in outcome.stdout
    assert not case.migration(written[2]).atomic
    # The lint finds nothing to report.
    assert run_checks(databases=["default"]) == []
    case.migrate()
    rating = table_columns("type_change_author")["rating"]
    field_type = connection.introspection.get_field_type(rating.type_code, rating)
    assert field_type == "BigIntegerField"
    case.migrate("0001")


@pytest.mark.parametrize(("answer", "written"), [("1", 3), ("2", 0), ("3", 1)])
def test_type_change_that_rewrites_the_table_interactive_choice(
    makemigrations_case: OpenCase, answer: str, written: int
) -> None:
    case = makemigrations_case("type_change")
    case.answers = [answer]
    outcome = case.makemigrations(interactive=True)
    assert (
        "Changing type_change.author.rating from IntegerField to BigIntegerField "
        "makes PostgreSQL rewrite the whole table while it is locked against reads "
        "and writes."
    ) in outcome.stdout
    assert (
        " 1) Change the type without rewriting the table: a pre-deploy migration "
        "adds a column of the new type, kept in sync with rating"
    ) in outcome.stdout
    assert outcome.status == (0 if written else 3)
    assert len(case.written()) == written


def test_interactive_dry_run_warns_of_a_table_rewrite_without_asking(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change")
    outcome = case.makemigrations("--dry-run", interactive=True)
    assert outcome.status == 0
    assert "makes PostgreSQL rewrite the whole table" in outcome.stdout
    assert "Please choose" not in outcome.stdout


def test_metadata_only_type_changes_are_written_without_question(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change")
    case.answers = ["3"]
    outcome = case.makemigrations(interactive=True)
    # Only the bigint is asked about, not the wider varchar.
    assert outcome.stdout.count("Please choose how to proceed") == 1
    case.migrate()
    case.migrate("0001")


# Renames


@pytest.mark.parametrize(
    ("answer", "stage"), [("3", Stage.PRE_DEPLOY), ("4", Stage.POST_DEPLOY)]
)
def test_rename_field_takes_the_chosen_stage(
    makemigrations_case: OpenCase, answer: str, stage: Stage
) -> None:
    case = makemigrations_case("rename_field")
    case.answers = ["y", answer]
    outcome = case.makemigrations(interactive=True)
    assert (
        "Renaming the field rename_field.author.bio renames its column"
        in outcome.stdout
    )
    (name,) = case.written()
    (rename,) = case.migration(name).operations
    assert isinstance(rename, syzygy_operations.RenameField)
    assert rename.stage is stage
    assert f"stage=syzygy.constants.Stage['{stage.name}']" in case.source(name)
    case.migrate()
    assert "biography" in table_columns("rename_field_author")
    case.migrate("0001")
    assert "bio" in table_columns("rename_field_author")


def test_rename_field_quit_prints_the_safe_recipe(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_field")
    case.answers = ["y", "2"]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 3
    assert case.written() == []
    assert "keep the column with db_column='bio' on rename_field.author.biography" in (
        outcome.stderr
    )


def test_rename_field_without_downtime_is_an_expand_and_a_contract(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_field")
    case.answers = ["y", "1"]
    outcome = case.makemigrations(interactive=True)
    assert (
        "1) Rename without downtime: a pre-deploy migration adds the column "
        "biography, kept in sync with bio until a post-deploy migration drops it"
    ) in outcome.stdout
    expand, contract = case.written()
    assert expand == "0002_rename_bio_author_biography_expand"
    assert contract == "0003_rename_bio_author_biography_contract"
    assert operation_types(case, expand) == ["syzygy.ExpandRenameField"]
    assert operation_types(case, contract) == ["syzygy.ContractRenameField"]
    assert not case.migration(expand).atomic
    assert not case.migration(contract).atomic
    assert "0002_rename_bio_author_biography_expand.py  [pre-deploy]" in outcome.stdout
    assert "0003_rename_bio_author_biography_contract.py  [post-deploy]" in (
        outcome.stdout
    )
    assert "    - Drop the old column of field biography" in outcome.stdout
    assert run_checks(databases=["default"]) == []
    case.migrate()
    assert "biography" in table_columns("rename_field_author")
    assert "bio" not in table_columns("rename_field_author")
    case.migrate("0001")
    assert "bio" in table_columns("rename_field_author")
    assert "biography" not in table_columns("rename_field_author")


def test_rename_field_used_by_an_index_offers_no_rename_without_downtime(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_field_indexed")
    case.answers = ["y", "2"]
    outcome = case.makemigrations(interactive=True)
    assert (
        "It can't be renamed without downtime: Meta.indexes has 'author_bio', "
        "which uses it."
    ) in outcome.stdout
    assert "without downtime:" not in outcome.stdout.split("Please choose")[1]
    (rename,) = [
        operation
        for name in case.written()
        for operation in case.migration(name).operations
        if isinstance(operation, syzygy_operations.RenameField)
    ]
    assert rename.stage is Stage.PRE_DEPLOY


def test_rename_field_keeping_its_column_asks_nothing(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_column_kept")
    case.answers = ["y"]  # Only Django's "was it renamed?"
    outcome = case.makemigrations(interactive=True)
    assert "renames its column" not in outcome.stdout
    (name,) = case.written()
    assert sorted(operation_types(case, name)) == [
        "django.AlterField",
        "django.RenameField",
    ]


def test_rename_field_non_interactive_is_an_addition_and_a_removal(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_field")
    case.makemigrations()
    pre, post = case.written()
    assert operation_types(case, pre) == ["django.AddField"]
    assert operation_types(case, post) == ["django.RemoveField"]


def test_rename_model_renames_its_table_with_a_view_until_the_contract(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_model")
    case.answers = ["y"]  # Only Django's "was it renamed?"
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 0
    assert "Please choose" not in outcome.stdout
    expand, contract = case.written()
    assert operation_types(case, expand) == [
        "syzygy.RenameModelInState",
        "syzygy.ExpandAlterModelTable",
    ]
    assert operation_types(case, contract) == ["syzygy.ContractAlterModelTable"]
    assert f"{expand}.py  [pre-deploy]" in outcome.stdout
    assert f"{contract}.py  [post-deploy]" in outcome.stdout
    assert (
        "    - Drop the view under the old name rename_model_author of the table of "
        "Writer (post-deploy)"
    ) in outcome.stdout
    assert run_checks(databases=["default"]) == []
    case.migrate(expand)
    assert "rename_model_writer" in table_names()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            views = connection.introspection.get_table_list(cursor)
        assert ("rename_model_author", "v") in [(t.name, t.type) for t in views]
    case.migrate()
    assert "rename_model_author" not in connection.introspection.table_names(
        include_views=True
    )
    case.migrate("0001")
    assert "rename_model_author" in table_names()
    assert "rename_model_writer" not in table_names()
    # The state agrees with the models: nothing left to write.
    case.migrate()
    assert case.makemigrations("--check").status == 0


def test_a_renamed_table_drops_its_view_before_the_columns_it_shows(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("table_and_fields")
    outcome = case.makemigrations()
    assert outcome.status == 0
    pre, post = case.written()
    assert operation_types(case, pre) == [
        "django.AddField",
        "syzygy.ExpandAlterModelTable",
    ]
    assert operation_types(case, post) == [
        "syzygy.ContractAlterModelTable",
        "django.RemoveField",
    ]
    case.migrate()
    assert set(table_columns("people")) == {"id", "name", "city"}
    case.migrate("0001")
    assert set(table_columns("table_and_fields_author")) == {"id", "name", "bio"}


def test_a_rename_without_downtime_lets_other_changes_take_their_stage(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_and_add")
    case.answers = ["y", "1"]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 0
    assert "can't be split" not in outcome.stdout
    written = case.written()
    assert [operation_types(case, name) for name in written] == [
        ["django.AddField"],
        ["syzygy.ExpandRenameField"],
        ["syzygy.ContractRenameField"],
    ]
    case.migrate()
    assert set(table_columns("rename_and_add_author")) == {"id", "biography", "age"}
    case.migrate("0001")


def test_rename_model_of_many_to_many_relations_quits_with_the_safe_recipe(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_model_m2m")
    case.answers = ["y", "1"]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == 3
    assert "renames the tables or columns of its many-to-many relations" in (
        outcome.stderr
    )
    assert case.written() == []


@pytest.mark.parametrize("interactive", [False, True])
def test_rename_model_keeping_its_table_is_a_rename_in_the_state_only(
    makemigrations_case: OpenCase, interactive: bool
) -> None:
    """Never CreateModel and DeleteModel of one table; no question, and no
    foreign key to it re-created on the database."""
    case = makemigrations_case("rename_model_kept")
    outcome = case.makemigrations(interactive=interactive)
    assert outcome.status == 0
    assert outcome.stdout.splitlines()[-1] == (
        "    ~ Rename model Author to Writer, keeping its table"
    )
    (name,) = case.written()
    assert name == "0002_rename_author_writer"
    (rename,) = case.migration(name).operations
    assert isinstance(rename, syzygy_operations.RenameModelInState)
    assert rename.db_table == "rename_model_kept_author"
    case.migrate("0001")
    before = table_columns("rename_model_kept_book")
    case.migrate()
    assert "rename_model_kept_author" in table_names()
    assert "rename_model_kept_writer" not in table_names()
    assert table_columns("rename_model_kept_book") == before
    # The state agrees with the database: nothing left to migrate.
    assert case.makemigrations("--check").status == 0
    case.migrate("0001")
    assert "rename_model_kept_author" in table_names()


def test_rename_model_keeping_its_table_but_not_its_many_to_many_tables_asks(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("rename_model_m2m")
    outcome = case.makemigrations()
    assert outcome.status == 3
    assert (
        "Renaming rename_model_m2m.Author to Writer renames the tables or columns "
        "of its many-to-many relations (rename_model_m2m_author_tags), which the "
        "deployed code uses."
    ) in outcome.stderr
    assert case.written() == []


# Changes that can't be split


def test_unsplittable_changes_are_listed_and_written_by_default(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("unsplittable")
    outcome = case.makemigrations()
    assert outcome.status == 0
    assert (
        "The changes of app 'unsplittable' can't be split into one pre-deploy and one "
        "post-deploy migration:\n  - Remove field tags from author\n"
        "  - Add field tags to author"
    ) in outcome.stdout
    name, lock_safe = case.written()
    assert outcome.stdout.splitlines()[-5].endswith(
        f"{name}.py  [ambiguous stage: set Migration.stage]"
    )
    assert operation_types(case, lock_safe) == ["syzygy.AlterFieldConcurrently"]
    assert [error.id for error in run_checks(databases=["default"])] == ["syzygy.E001"]


def test_unsplittable_changes_abort_when_configured(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("unsplittable")
    with override_settings(SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS="abort"):
        outcome = case.makemigrations()
    assert outcome.status == 3
    assert "Make them in several steps" in outcome.stderr
    assert case.written() == []


@pytest.mark.parametrize(("answer", "written"), [("1", 2), ("2", 0)])
def test_unsplittable_changes_interactive_choice(
    makemigrations_case: OpenCase, answer: str, written: int
) -> None:
    case = makemigrations_case("unsplittable")
    case.answers = [answer]
    outcome = case.makemigrations(interactive=True)
    assert outcome.status == (0 if written else 3)
    assert len(case.written()) == written


# Deleting a model


def test_delete_model_is_post_deploy(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("delete_model")
    case.makemigrations()
    unconstrained, deleted = case.written()
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    # The deleted model's foreign key loses its constraint before the deploy.
    assert operation_types(case, unconstrained) == ["syzygy.AlterField"]
    assert "db_constraint=False" in case.source(unconstrained)
    assert "django.DeleteModel" in operation_types(case, deleted)
    assert_clean(case)
    case.migrate("0001")
    OldAuthor, OldBook = case.old_models("Author", "Book")
    case.migrate(pre_deploy=True)
    author = OldAuthor.objects.create(name="a")
    book = OldBook.objects.create(title="t", author=author)
    OldBook.objects.filter(pk=book.pk).update(title="u")
    assert OldBook.objects.get(pk=book.pk).title == "u"
    # The new code, which knows no books, deletes an author that has some.
    gone = OldAuthor.objects.create(name="gone")
    OldBook.objects.create(title="orphan", author=gone)
    case.new_model("Author").objects.filter(pk=gone.pk).delete()
    case.migrate()
    assert "delete_model_book" not in table_names()
    assert case.new_model("Author").objects.get(pk=author.pk).name == "a"
    case.migrate("0001")
    assert "delete_model_book" in table_names()


# The command's other options


def test_disable_syzygy_writes_what_django_writes(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_not_null")
    outcome = case.makemigrations(disable_syzygy=True)
    assert "[pre-deploy]" not in outcome.stdout
    (name,) = case.written()
    assert "syzygy" not in case.source(name)


def test_check_exits_non_zero_and_writes_nothing(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("add_not_null")
    assert case.makemigrations("--check").status == 1
    assert case.written() == []


def test_scriptable_output_stays_bare_paths(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("add_not_null")
    outcome = case.makemigrations("--scriptable")
    paths = outcome.stdout.splitlines()
    assert [path.rsplit("/", 1)[1] for path in paths] == [
        f"{n}.py" for n in case.written()
    ]


def test_name_applies_to_both_migrations(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("add_not_null")
    case.makemigrations("--name", "rating")
    assert case.written() == ["0002_rating", "0003_rating", "0004_rating"]


def test_empty_migration_has_no_stage_of_its_own(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("add_not_null")
    outcome = case.makemigrations("--empty")
    (name,) = case.written()
    assert outcome.stdout.splitlines()[1].endswith(f"{name}.py  [no operations]")


def test_merge_writes_a_merge_migration(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("conflict")
    outcome = case.makemigrations("--merge")
    assert outcome.status == 0
    (name,) = [name for name in case.written() if "merge" in name]
    assert case.migration(name).operations == []


def test_update_merges_changes_of_the_same_stage(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("add_nullable")
    outcome = case.makemigrations("--update")
    assert outcome.status == 0
    assert [path.name for path in case.directory.glob("0*.py")] == [
        "0001_initial_updated.py"
    ]
    operations = case.migration("0001_initial_updated").operations
    assert [type(operation).__name__ for operation in operations] == ["CreateModel"]
    assert "rating" in dict(operations[0].fields)


def test_update_refuses_to_extend_a_migration_of_ambiguous_stage(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_nullable")
    (case.directory / "0002_mixed.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("add_nullable", "0001_initial")]\n'
        "    operations = [\n"
        '        migrations.RemoveField(model_name="author", name="bio"),\n'
        '        migrations.AddField("author", "bio", models.TextField(null=True)),\n'
        "    ]\n"
    )
    with pytest.raises(CommandError, match="--update can't merge the changes of app"):
        case.makemigrations("--update")


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("remove_field", "pre-deploy and post-deploy operations would share one"),
        ("not_null", "lock-safe operations run in a migration of their own"),
    ],
)
def test_update_refuses_to_mix_stages_or_transaction_modes(
    makemigrations_case: OpenCase, label: str, reason: str
) -> None:
    case = makemigrations_case(label)
    with pytest.raises(CommandError, match="--update can't merge") as raised:
        case.makemigrations("--update")
    assert reason in str(raised.value)


def test_written_migrations_follow_the_deploy(makemigrations_case: OpenCase) -> None:
    case = makemigrations_case("remove_field")
    case.makemigrations()
    pre, post = case.written()
    case.migrate("0001")
    plan = case.migrate(pre_deploy=True, plan=True)
    assert f"remove_field.{pre}  [pre-deploy, inferred]" in plan
    postponed = plan.split("Postponed until after the deploy:\n")[1]
    assert postponed.startswith(f"remove_field.{post}  [post-deploy, inferred]")


# Combining with another package that overrides makemigrations


class OtherPackageAutodetector(DjangoMigrationAutodetector):
    """Another package's autodetector: it notes every migration it names."""

    arranged: list[str] = []

    def arrange_for_graph(self, changes: Any, *args: Any, **kwargs: Any) -> Any:
        changes = super().arrange_for_graph(changes, *args, **kwargs)
        for migration in itertools.chain.from_iterable(changes.values()):
            self.arranged.append(migration.name)
        return changes


class OtherPackageCommand(makemigrations.Command):
    """Another package's makemigrations: it counts what it writes."""

    autodetector = OtherPackageAutodetector

    def write_migration_files(self, changes: Any, *args: Any, **kwargs: Any) -> None:
        self.written_by_other_package = sum(len(each) for each in changes.values())
        super().write_migration_files(changes, *args, **kwargs)


class CombinedAutodetector(StageAwareAutodetectorMixin, OtherPackageAutodetector):
    pass


class CombinedCommand(StageAwareMakemigrationsMixin, OtherPackageCommand):
    autodetector = CombinedAutodetector


def test_mixins_combine_with_another_package_overriding_makemigrations(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_not_null")
    command = CombinedCommand()
    outcome = case.makemigrations(command=command)
    # syzygy split the change and labelled the migrations...
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    assert "[post-deploy]" in outcome.stdout
    # ...and the other package did its part.
    assert command.written_by_other_package == 3
    assert OtherPackageAutodetector.arranged[-3:] == case.written()


def test_interactive_dry_run_asks_no_question_about_defaults(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("remove_field")
    outcome = case.makemigrations("--dry-run", interactive=True)
    assert outcome.status == 0
    assert "Please select a fix" not in outcome.stdout
    assert "[pre-deploy]" in outcome.stdout
    case = makemigrations_case("unsplittable")
    outcome = case.makemigrations("--dry-run", interactive=True)
    assert outcome.status == 0
    assert "can't be split into one pre-deploy" in outcome.stdout
    assert "Please choose how to proceed" not in outcome.stdout


def test_disable_syzygy_keeps_the_other_package_autodetector(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("add_not_null")
    OtherPackageAutodetector.arranged.clear()
    case.makemigrations(command=CombinedCommand(), disable_syzygy=True)
    (name,) = case.written()
    assert "syzygy" not in case.source(name)
    assert OtherPackageAutodetector.arranged == [name]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the backfill under concurrent inserts runs on PostgreSQL "
    "(SYZYGY_TEST_DATABASE=postgresql)",
)
def test_volatile_default_on_many_rows_keeps_old_inserts_working(
    makemigrations_case: OpenCase,
) -> None:
    """``token = UUIDField(default=uuid.uuid4)`` added to rows in many batches
    while old code inserts (benchmarks/locks.py times a million rows)."""
    rows = 50_000
    case = makemigrations_case("add_volatile")
    case.makemigrations()
    case.migrate("0001")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO add_volatile_author (name) "
            "SELECT 'author ' || n FROM generate_series(1, %s) n",
            [rows],
        )
    (OldAuthor,) = case.old_models("Author")
    stop = threading.Event()
    failures: list[BaseException] = []
    inserted = 0

    def old_code() -> None:
        nonlocal inserted
        try:
            while not stop.is_set():
                OldAuthor.objects.create(name="old code")
                inserted += 1
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    writer = threading.Thread(target=old_code)
    writer.start()
    try:
        case.migrate(pre_deploy=True)
        # The rollout: new code inserts beside the old.
        Author = case.new_model("Author")
        Author.objects.bulk_create(Author(name="new code") for _ in range(100))
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert inserted > 0
    # Old code is gone: the post-deploy migration backfills row by row.
    case.migrate()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT token), count(*) FROM add_volatile_author"
        )
        assert cursor.fetchone() == (rows + inserted + 100, rows + inserted + 100)
    assert table_columns("add_volatile_author")["token"].null_ok is False
    case.migrate("0001")


def test_add_field_with_a_constant_callable_default_is_not_backfilled(
    makemigrations_case: OpenCase,
) -> None:
    """``dict`` and a function returning a literal give every row the same
    value: a database default serves the old code, no row-by-row backfill."""
    case = makemigrations_case("add_constant_callable")
    outcome = case.makemigrations()
    assert "row by row" not in outcome.stdout
    pre, post = case.written()
    assert stages(case) == [Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    assert operation_types(case, pre) == ["syzygy.AddField", "syzygy.AddField"]
    assert operation_types(case, post) == [
        "syzygy.PostAddField",
        "syzygy.PostAddField",
    ]
    assert_clean(case)

    case.migrate("0001")
    (OldAuthor,) = case.old_models("Author")
    OldAuthor.objects.create(name="before")
    case.migrate(pre_deploy=True)
    OldAuthor.objects.create(name="old code")
    case.migrate()
    Author = case.new_model("Author")
    assert (
        list(Author.objects.values_list("settings", "preferences"))
        == [({}, {"newsletter": False, "languages": ["en"]})] * 2
    )
    case.migrate("0001")


def test_dry_run_shows_the_files_as_they_are_written(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("lock_safe")
    shown = case.makemigrations("--dry-run", verbosity=3).stdout
    assert case.written() == []
    case.makemigrations()
    for name in case.written():
        assert case.source(name) in shown
    assert "    atomic = False\n" in shown


def test_table_rewrite_written_anyway_records_the_review(
    makemigrations_case: OpenCase,
) -> None:
    case = makemigrations_case("type_change")
    case.answers = ["3"]
    case.makemigrations(interactive=True)
    (written,) = case.written()
    assert (
        "class Migration(migrations.Migration):\n"
        "    reviewed_checks = {\n"
        "        'syzygy.W006': 'makemigrations asked, and the answer was to write "
        "it anyway: the table is small enough to be locked while it is "
        "rewritten.',\n"
        "    }\n"
    ) in case.source(written)
    assert case.migration(written).reviewed_checks == {
        "syzygy.W006": syzygy_autodetector.REWRITE_ANSWER
    }
    # The lint is silent about it.
    case.migrate("0001")
    assert run_checks(databases=["default"]) == []
    case.migrate()
    case.migrate("0001")
