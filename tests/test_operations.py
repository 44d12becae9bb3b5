from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.writer import MigrationWriter
from django.db.models.fields import NOT_PROVIDED
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.operations import (
    AddConstraintNotValid,
    AddField,
    AlterField,
    BackfillField,
    PostAddField,
    PreRemoveField,
    RenameField,
    RenameModel,
    RenameModelInState,
)
from syzygy.plan import operation_stage

from .catalogue import table_columns, table_names


def assert_column(
    table: str, column: str, *, null: bool, default: str | None = None
) -> None:
    info = table_columns(table)[column]
    assert info.null_ok is null, f"{table}.{column} null_ok={info.null_ok}"
    if default is None:
        assert info.default is None, f"{table}.{column} default={info.default!r}"
    else:
        # PostgreSQL decorates defaults with casts: 'anon'::character varying.
        assert info.default is not None, f"{table}.{column} has no default"
        assert default in info.default, info.default


def comparable(operation: migrations.operations.base.Operation) -> object:
    """Return the deconstruction of an operation with its field deconstructed."""
    name, args, kwargs = operation.deconstruct()
    if "field" in kwargs:
        kwargs["field"] = kwargs["field"].deconstruct()[1:]
    return name, args, kwargs


def migrate_legacy(target: str) -> None:
    call_command("migrate", "alpha", target, verbosity=0)


def test_migrations_written_by_django_syzygy_1x_apply_forwards_and_backwards(
    use_scenario: Callable[[str], None],
) -> None:
    use_scenario("legacy_1x")
    migrate_legacy("0001")
    assert_column("alpha_author", "name", null=False)
    assert_column("alpha_author", "nickname", null=False)

    # AddField keeps a database default so old code can insert rows.
    migrate_legacy("0002")
    assert_column("alpha_author", "rating", null=False, default="42")
    assert_column("alpha_author", "publisher_id", null=False, default="1")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_publisher (id, name) VALUES (1, 'p')")
        cursor.execute(
            "INSERT INTO alpha_author (name, nickname, bio) VALUES ('old', 'o', NULL)"
        )
        cursor.execute("SELECT rating, publisher_id FROM alpha_author")
        assert cursor.fetchall() == [(42, 1)]

    # PostAddField drops it.
    migrate_legacy("0003")
    assert_column("alpha_author", "rating", null=False)
    assert_column("alpha_author", "publisher_id", null=False)

    # PreRemoveField: NULLable without default, database default with one.
    migrate_legacy("0004")
    assert_column("alpha_author", "name", null=True)
    assert_column("alpha_author", "nickname", null=False, default="anon")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_author (rating, publisher_id) VALUES (1, 1)")
        cursor.execute("SELECT name, nickname FROM alpha_author WHERE rating = 1")
        assert cursor.fetchall() == [(None, "anon")]

    migrate_legacy("0005")
    assert {"name", "nickname"}.isdisjoint(table_columns("alpha_author"))

    # AlterField(stage=...) alters like the stock operation.
    migrate_legacy("0006")
    assert_column("alpha_author", "bio", null=False)

    migrate_legacy("0007")
    assert "biography" in table_columns("alpha_author")
    assert "bio" not in table_columns("alpha_author")

    # And everything reverts, step by step.
    migrate_legacy("0006")
    assert_column("alpha_author", "bio", null=False)
    migrate_legacy("0005")
    assert_column("alpha_author", "bio", null=True)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM alpha_author")
    migrate_legacy("0004")
    assert_column("alpha_author", "name", null=True)
    assert_column("alpha_author", "nickname", null=False, default="anon")
    migrate_legacy("0003")
    assert_column("alpha_author", "name", null=False)
    assert_column("alpha_author", "nickname", null=False)
    migrate_legacy("0002")
    assert_column("alpha_author", "rating", null=False, default="42")
    migrate_legacy("0001")
    assert "rating" not in table_columns("alpha_author")
    migrate_legacy("zero")
    assert "alpha_author" not in table_names()


def test_migrations_written_by_django_syzygy_1x_keep_their_stages() -> None:
    int_field = models.IntegerField(default=42)
    assert operation_stage(AddField("author", "rating", int_field)) is Stage.PRE_DEPLOY
    assert (
        operation_stage(PostAddField("author", "rating", int_field))
        is Stage.POST_DEPLOY
    )
    assert (
        operation_stage(PreRemoveField("author", "rating", int_field))
        is Stage.PRE_DEPLOY
    )
    staged = AlterField("author", "rating", int_field, stage=Stage["POST_DEPLOY"])
    assert operation_stage(staged) is Stage.POST_DEPLOY


@pytest.mark.parametrize(
    "operation",
    [
        AddField("author", "rating", models.IntegerField(default=42)),
        AddField(
            "author", "rating", models.IntegerField(default=0), preserve_default=False
        ),
        PostAddField("author", "rating", models.IntegerField(default=42)),
        PreRemoveField("author", "name", models.CharField(max_length=100)),
        PreRemoveField(
            "author", "nickname", models.CharField(default="a", max_length=5)
        ),
        AlterField(
            "author", "bio", models.TextField(default=""), stage=Stage.POST_DEPLOY
        ),
        RenameField("author", "bio", "biography", stage=Stage.PRE_DEPLOY),
        RenameModel("Author", "Writer", stage=Stage.POST_DEPLOY),
    ],
    ids=lambda operation: operation.describe(),
)
def test_operations_serialize_to_what_the_migration_file_wrote(
    operation: migrations.operations.base.Operation,
) -> None:
    migration = type("Migration", (migrations.Migration,), {"operations": [operation]})(
        "0002_change", "alpha"
    )
    source = MigrationWriter(migration).as_string()
    assert "import syzygy.operations" in source
    assert f"syzygy.operations.{operation.__class__.__name__}(" in source
    namespace: dict[str, object] = {}
    exec(source, namespace)
    (loaded,) = namespace["Migration"].operations  # type: ignore[attr-defined]
    assert type(loaded) is type(operation)
    assert comparable(loaded) == comparable(operation)
    assert getattr(loaded, "stage", None) == getattr(operation, "stage", None)


def test_add_field_gives_the_column_the_field_default() -> None:
    operation = AddField("author", "rating", models.IntegerField(default=42))
    assert operation.field.db_default == 42
    assert operation.deconstruct()[2]["field"].db_default is NOT_PROVIDED


def test_add_field_keeps_an_explicit_db_default() -> None:
    field = models.IntegerField(default=1, db_default=2)
    assert AddField("author", "rating", field).field.db_default == 2


def test_add_field_of_a_nullable_field_without_default_adds_no_db_default() -> None:
    field = models.IntegerField(null=True)
    assert AddField("author", "rating", field).field.db_default is NOT_PROVIDED


def test_add_field_takes_the_primary_key_of_a_model_instance_default() -> None:
    class Instance(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "alpha"

    field = models.ForeignKey("alpha.publisher", models.CASCADE, default=Instance(pk=7))
    assert AddField("author", "publisher", field).field.db_default == 7


def test_pre_remove_field_describes_what_it_does() -> None:
    nullable = PreRemoveField("author", "name", models.CharField(max_length=100))
    assert nullable.describe() == "Set field name of author NULLable"
    assert nullable.migration_name_fragment == "set_nullable_author_name"
    defaulted = PreRemoveField(
        "author", "nick", models.CharField(max_length=5, default="a")
    )
    assert defaulted.describe() == "Set database DEFAULT of field nick on author"
    assert defaulted.migration_name_fragment == "set_db_default_author_nick"


def test_post_add_field_describes_what_it_does() -> None:
    operation = PostAddField("author", "rating", models.IntegerField(default=42))
    assert operation.describe() == "Drop database DEFAULT of field rating on author"
    assert operation.migration_name_fragment == "drop_db_default_author_rating"


def test_staged_operations_describe_their_stage() -> None:
    operation = RenameField("author", "bio", "biography", stage=Stage.POST_DEPLOY)
    assert (
        operation.describe() == "Rename field bio on author to biography (post-deploy)"
    )


def test_staged_operations_do_not_reduce_across_stages() -> None:
    pre = AlterField(
        "author", "bio", models.TextField(null=True), stage=Stage.PRE_DEPLOY
    )
    post = AlterField("author", "bio", models.TextField(), stage=Stage.POST_DEPLOY)
    same = AlterField("author", "bio", models.TextField(), stage=Stage.PRE_DEPLOY)
    assert pre.reduce(post, "alpha") is False
    assert pre.reduce(same, "alpha") == [same]
    assert pre.reduce(migrations.RemoveField("author", "bio"), "alpha") is False


@pytest.mark.django_db(transaction=True)
def test_staged_rename_model_renames_the_table_forwards_and_backwards() -> None:
    author = ModelState(
        "alpha",
        "Author",
        [("id", models.AutoField(primary_key=True)), ("name", models.TextField())],
    )
    before = ProjectState()
    before.add_model(author)
    create = migrations.CreateModel("Author", list(author.fields.items()))
    rename = RenameModel("Author", "Writer", stage=Stage.PRE_DEPLOY)
    after = before.clone()
    rename.state_forwards("alpha", after)
    with connection.schema_editor() as editor:
        create.database_forwards("alpha", editor, ProjectState(), before)
        rename.database_forwards("alpha", editor, before, after)
    assert "alpha_writer" in table_names()
    assert "alpha_author" not in table_names()
    with connection.schema_editor() as editor:
        rename.database_backwards("alpha", editor, after, before)
    assert "alpha_author" in table_names()
    with connection.schema_editor() as editor:
        create.database_backwards("alpha", editor, before, ProjectState())
    assert "alpha_author" not in table_names()


def test_lock_safe_operations_apply_and_revert_on_every_database(
    use_scenario: Callable[[str], None],
) -> None:
    """Stock behaviour elsewhere than PostgreSQL; the same schema in the end."""
    use_scenario("lock_safe")
    call_command("migrate", "alpha", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alpha_book (title, pages) VALUES ('a', 1)")
        cursor.execute("INSERT INTO alpha_book (title, pages) VALUES ('b', 2)")
    call_command("migrate", "alpha", verbosity=0)
    columns = table_columns("alpha_book")
    assert columns["pages"].null_ok is False
    assert columns["ref"].null_ok is False
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "alpha_book")
        cursor.execute("SELECT count(DISTINCT ref) FROM alpha_book")
        assert cursor.fetchone() == (2,)
    assert found["book_title_idx"]["index"]
    assert found["book_title_unique"]["unique"]
    assert found["book_pages_positive"]["check"]
    call_command("migrate", "alpha", "0001", verbosity=0)
    assert set(table_columns("alpha_book")) == {"id", "title", "pages"}


def test_backfill_field_deconstructs_to_what_it_was_given() -> None:
    field = models.UUIDField(default=uuid.uuid4)
    operation = BackfillField("book", "ref", field, batch_size=10, pause=0.5)
    name, _, kwargs = operation.deconstruct()
    assert name == "BackfillField"
    assert kwargs == {
        "model_name": "book",
        "name": "ref",
        "field": field,
        "batch_size": 10,
        "pause": 0.5,
    }
    assert operation_stage(operation) is Stage.POST_DEPLOY
    assert operation.migration_name_fragment == "backfill_book_ref"
    assert "batch_size" not in BackfillField("book", "ref", field).deconstruct()[2]


class NoAlphaRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return app_label != "alpha"


def test_lock_safe_operations_respect_routers(
    use_scenario: Callable[[str], None],
) -> None:
    use_scenario("lock_safe")
    with override_settings(DATABASE_ROUTERS=[NoAlphaRouter()]):
        call_command("migrate", "alpha", "0009", verbosity=0)
        assert "alpha_book" not in table_names()
        call_command("migrate", "alpha", "zero", verbosity=0)


def test_add_constraint_not_valid_takes_check_and_unique_constraints_only() -> None:
    class Other(models.BaseConstraint):
        pass

    with pytest.raises(TypeError) as raised:
        AddConstraintNotValid("book", Other(name="other"))
    assert str(raised.value) == (
        "AddConstraintNotValid adds check and unique constraints, not "
        "Other 'other': use migrations.AddConstraint for it."
    )


def test_rename_model_in_state_deconstructs_and_is_never_merged_into_a_rename() -> None:
    operation = RenameModelInState("Author", "Writer")
    assert operation.deconstruct() == (
        "RenameModelInState",
        [],
        {"old_name": "Author", "new_name": "Writer"},
    )
    assert operation.describe() == "Rename model Author to Writer, keeping its table"
    state = ProjectState()
    state.add_model(ModelState("alpha", "Author", [("id", models.AutoField())]))
    operation.state_forwards("alpha", state)
    assert state.models["alpha", "writer"].options.get("db_table") is None
    # A RenameModel of the result would rename the table: not one operation.
    assert not isinstance(
        operation.reduce(migrations.RenameModel("Writer", "Poet"), "alpha"), list
    )


def test_migration_files_import_every_operation_from_its_public_path() -> None:
    import syzygy.operations

    operations_ = [
        syzygy.operations.ExpandRenameField("book", "title", "headline"),
        syzygy.operations.ContractRenameField("book", "title", "headline"),
        syzygy.operations.ExpandAlterField("book", "rating", models.BigIntegerField()),
        syzygy.operations.ContractAlterField(
            "book", "rating", models.BigIntegerField()
        ),
        syzygy.operations.ExpandAlterModelTable("book", "books"),
        syzygy.operations.ContractAlterModelTable("book", "alpha_book"),
        syzygy.operations.BackfillField("book", "ref", models.UUIDField()),
    ]
    migration = type(
        "Migration",
        (migrations.Migration,),
        {"operations": operations_, "dependencies": []},
    )("0002_steps", "alpha")
    source = MigrationWriter(migration).as_string()
    assert "import syzygy.operations\n" in source
    for operation in operations_:
        assert f"syzygy.operations.{type(operation).__name__}(" in source
    for name in syzygy.operations.__all__:
        assert getattr(syzygy.operations, name).__module__ == "syzygy.operations"
