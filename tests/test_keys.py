"""Primary keys widened in an expand and a contract step, with every column
that references them: on a real PostgreSQL, no table rewritten under lock,
both releases working throughout, and the schema ``AlterField`` leaves."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.test_renames import Release, deploy, fetch, kill_when, postgresql_only

Scenario = Callable[[str], None]

TABLES = (
    "alpha_author",
    "beta_book",
    "beta_profile",
    "beta_club",
    "beta_club_members",
)


def migrate(app_label: str, target: str, **options: Any) -> None:
    call_command("migrate", app_label, target, verbosity=0, **options)


def schema() -> dict[str, Any]:
    """Return the columns, indexes, constraints, triggers and sequences of
    the tables, in forms that don't depend on the order of the columns."""
    found: dict[str, Any] = {}
    for table in TABLES:
        found[table] = {
            "columns": {
                name: (kind, not_null, default, identity)
                for name, kind, not_null, default, identity in fetch(
                    "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                    "pg_get_expr(adbin, adrelid), attidentity FROM pg_attribute "
                    "LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum "
                    "WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped",
                    [table],
                )
            },
            "indexes": dict(
                fetch(
                    "SELECT relname, pg_get_indexdef(indexrelid) FROM pg_index "
                    "JOIN pg_class ON pg_class.oid = indexrelid "
                    "WHERE indrelid = %s::regclass",
                    [table],
                )
            ),
            "constraints": dict(
                fetch(
                    "SELECT conname, pg_get_constraintdef(oid) || ' ' || "
                    "convalidated FROM pg_constraint WHERE conrelid = %s::regclass",
                    [table],
                )
            ),
            "triggers": fetch(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal",
                [table],
            ),
        }
    found["sequences"] = fetch(
        "SELECT sequencename, data_type::text, start_value, min_value, max_value "
        "FROM pg_sequences WHERE sequencename LIKE 'alpha_%%' "
        "OR sequencename LIKE 'beta_%%' ORDER BY 1"
    )
    found["functions"] = fetch(
        "SELECT proname FROM pg_proc WHERE proname LIKE %s", ["%sync"]
    )
    return found


@postgresql_only
def test_expand_and_contract_leave_the_schema_stock_alter_field_leaves(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys_stock")
    migrate("beta", "0001")
    migrate("alpha", "0002")
    stock = schema()
    migrate("alpha", "zero")
    use_scenario("keys")
    migrate("beta", "0001")
    before = schema()
    migrate("alpha", "0002")
    expanded = schema()
    migrate("alpha", "0003")

    assert schema() == stock
    assert expanded["alpha_author"]["columns"]["id_syzygy"][0] == "bigint"
    assert expanded["beta_club_members"]["columns"]["author_id_syzygy"][0] == "bigint"
    assert len(expanded["functions"]) == 5
    # Reverted, the columns referencing the key are narrowed too (stock
    # AlterField leaves those of models applied after it); the foreign keys
    # take the names AlterField gives them.
    migrate("alpha", "0001")
    assert named_as_altered(schema()) == named_as_altered(before)


def named_as_altered(found: dict[str, Any]) -> dict[str, Any]:
    """Return ``found`` with its foreign keys named as AlterField names them."""
    for table in TABLES:
        found[table]["constraints"] = {
            re.sub("_fk_.*", "_fk", name): definition
            for name, definition in found[table]["constraints"].items()
        }
    return found


def apps_at(alpha: str) -> Any:
    """Return the models of the code deployed with alpha's ``alpha``."""
    loader = MigrationLoader(connection)
    return loader.project_state([("alpha", alpha), ("beta", "0001_initial")]).apps


def seed(authors: int) -> None:
    """Insert ``authors`` authors, each with a mentor, a book, a profile
    and a club membership, in a few statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alpha_author (name) "
            "SELECT 'author ' || n FROM generate_series(1, %s) n",
            [authors],
        )
        cursor.execute("UPDATE alpha_author SET mentor_id = id - 1 WHERE id > 1")
        cursor.execute(
            "INSERT INTO beta_book (title, author_id) "
            "SELECT 'book ' || id, id FROM alpha_author"
        )
        cursor.execute(
            "INSERT INTO beta_profile (bio, author_id) SELECT '', id FROM alpha_author"
        )
        cursor.execute("INSERT INTO beta_club (name) VALUES ('readers')")
        cursor.execute(
            "INSERT INTO beta_club_members (club_id, author_id) "
            "SELECT (SELECT id FROM beta_club), id FROM alpha_author"
        )


class Writers(Release):
    """Write on every table with the models of one release: create an author
    with a book, a profile and a membership, rename an earlier one, delete
    another, and read what the other release wrote."""

    def __init__(self, name: str, apps: Any) -> None:
        super().__init__(name)
        self.Author = apps.get_model("alpha", "Author")
        self.Book = apps.get_model("beta", "Book")
        self.Profile = apps.get_model("beta", "Profile")
        self.club = apps.get_model("beta", "Club").objects.get()
        self.written: dict[int, str] = {}
        self.deleted: set[int] = set()
        self.other: Writers | None = None
        self.reads = 0

    def step(self, number: int) -> None:
        name = f"{self.name} {number}"
        author = self.Author.objects.create(name=name, mentor_id=1)
        self.Book.objects.create(title=f"{name} book", author=author)
        self.Profile.objects.create(bio=name, author=author)
        self.club.members.add(author)
        self.written[author.pk] = name
        if number % 3 == 0:
            pk = list(self.written)[number // 3 - 1]
            renamed = f"{self.written[pk]} renamed"
            self.Author.objects.filter(pk=pk).update(name=renamed)
            self.Book.objects.filter(author_id=pk).update(title=f"{renamed} book")
            self.written[pk] = renamed
        if number % 5 == 0:
            pk = list(self.written)[number // 5 - 1]
            # Cascades to its book, profile and membership.
            self.Author.objects.filter(pk=pk).delete()
            self.deleted.add(pk)
        if self.other is not None and self.other.written:
            pk = list(self.other.written)[-1]
            author = (
                self.Author.objects.select_related("profile", "mentor")
                .prefetch_related("book_set", "club_set")
                .get(pk=pk)
            )
            assert author.profile.author_id == pk
            assert [book.author_id for book in author.book_set.all()] == [pk]
            assert [club.pk for club in author.club_set.all()] == [self.club.pk]
            self.reads += 1


@postgresql_only
def test_a_rolling_deploy_of_a_bigint_key_never_fails_a_query(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    seed(20_000)
    old = Writers("old", apps_at("0001_initial"))
    new = Writers("new", apps_at("0003_alter_contract"))
    old.other, new.other = new, old

    deploy(old, new, "0003")

    assert old.errors == new.errors == []
    # Both wrote and read throughout (fewer on a busy machine).
    assert len(old.written) > 10
    assert len(new.written) > 10
    assert old.reads > 5
    assert new.reads > 5
    Author = apps_at("0003_alter_contract").get_model("alpha", "Author")
    expected = {
        pk: name
        for writers in (old, new)
        for pk, name in writers.written.items()
        if pk not in writers.deleted
    }
    assert dict(Author.objects.filter(pk__gt=20_000).values_list("pk", "name")) == (
        expected
    )
    # Every author has its book, profile and membership, and nothing else
    # does: the cascades of either release reached the other's rows.
    assert fetch(
        "SELECT count(*) FROM alpha_author WHERE "
        "(SELECT count(*) FROM beta_book WHERE author_id = alpha_author.id) = 1 "
        "AND (SELECT count(*) FROM beta_profile WHERE author_id = alpha_author.id) = 1 "
        "AND (SELECT count(*) FROM beta_club_members "
        "WHERE author_id = alpha_author.id) = 1"
    ) == [(20_000 + len(expected),)]
    assert fetch(
        "SELECT (SELECT count(*) FROM beta_book), (SELECT count(*) FROM beta_profile), "
        "(SELECT count(*) FROM beta_club_members)"
    ) == [(20_000 + len(expected),) * 3]
    Book = apps_at("0003_alter_contract").get_model("beta", "Book")
    assert {
        pk: title.removesuffix(" book")
        for pk, title in Book.objects.filter(author_id__in=expected).values_list(
            "author_id", "title"
        )
    } == expected
    assert schema()["alpha_author"]["columns"]["id"][0] == "bigint"
    Author.objects.create(pk=2**40, name="beyond integers", mentor_id=2**40)
    assert Author.objects.get(mentor_id=2**40).pk == 2**40
    Author.objects.filter(pk=2**40).delete()


@postgresql_only
def test_keys_the_old_type_cant_hold_stop_the_revert_and_leave_nothing(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    seed(100)
    migrate("alpha", "0003")
    migrated = schema()
    Author = apps_at("0003_alter_contract").get_model("alpha", "Author")
    Author.objects.create(pk=2**40, name="beyond integers")

    with pytest.raises(CommandError, match=r"alpha_author\.id can't all be converted"):
        migrate("alpha", "0002")

    assert schema() == migrated
    Author.objects.filter(pk=2**40).delete()


def shadows() -> list[tuple[str, str]]:
    """Return the shadow columns of the tables: table and column."""
    return fetch(
        "SELECT attrelid::regclass::text, attname FROM pg_attribute "
        "WHERE attname LIKE '%%\\_syzygy' AND NOT attisdropped "
        "AND attrelid::regclass::text = ANY(%s) ORDER BY 1",
        [list(TABLES)],
    )


def recorded(name: str) -> bool:
    return bool(fetch("SELECT 1 FROM django_migrations WHERE name = %s", [name]))


@postgresql_only
def test_an_expand_killed_mid_copy_resumes_on_the_next_run(
    use_scenario: Scenario, tmp_path: Path
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    seed(100_000)

    def copying_books() -> bool:
        return ("beta_book", "author_id_syzygy") in shadows() and fetch(
            "SELECT count(author_id_syzygy) > 0 FROM beta_book"
        ) == [(True,)]

    kill_when(copying_books, "keys", ["alpha", "0002"], tmp_path / "migrate.out")

    # Killed mid-copy: not recorded, the key copied, the books partly, and
    # the triggers keep what old code writes in sync meanwhile.
    assert not recorded("0002_alter_expand")
    ((copied,),) = fetch("SELECT count(author_id_syzygy) FROM beta_book")
    assert 0 < copied < 100_000
    Book = apps_at("0001_initial").get_model("beta", "Book")
    Book.objects.filter(pk=100_000).update(author_id=1)

    migrate("alpha", "0002")

    assert recorded("0002_alter_expand")
    assert fetch(
        "SELECT count(*) FROM beta_book WHERE author_id_syzygy = author_id"
    ) == [(100_000,)]
    assert fetch("SELECT author_id_syzygy FROM beta_book WHERE id = 100000") == [(1,)]
    migrate("alpha", "0003")
    assert shadows() == []


@postgresql_only
def test_a_contract_killed_while_it_waits_for_its_locks_changed_nothing(
    use_scenario: Scenario, tmp_path: Path
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    seed(1_000)
    migrate("alpha", "0002")
    expanded = schema()
    reader = new_connection()

    def waiting() -> bool:
        return bool(
            fetch(
                "SELECT 1 FROM pg_locks WHERE NOT granted "
                "AND relation = 'beta_profile'::regclass AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )

    with reader.cursor() as cursor:
        # The old code reads profiles in a long transaction.
        cursor.execute("BEGIN; SELECT count(*) FROM beta_profile")
        try:
            kill_when(waiting, "keys", ["alpha", "0003"], tmp_path / "migrate.out")
        finally:
            cursor.execute("ROLLBACK")
    reader.close()

    assert not recorded("0003_alter_contract")
    assert schema() == expanded
    migrate("alpha", "0003")
    assert shadows() == []
    assert schema()["alpha_author"]["columns"]["id"][0] == "bigint"


@postgresql_only
def test_a_contract_killed_while_it_validates_the_foreign_keys_finishes_them(
    use_scenario: Scenario, tmp_path: Path
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    seed(100_000)
    migrate("alpha", "0002")
    locker = new_connection()

    def validating_members() -> bool:
        # Once the swap is done, the validation of the memberships' foreign
        # key, the last one, waits for this lock.
        if shadows():
            return False
        with locker.cursor() as cursor:
            cursor.execute(
                "BEGIN; LOCK TABLE beta_club_members IN SHARE UPDATE EXCLUSIVE MODE"
            )
        return True

    try:
        kill_when(validating_members, "keys", ["alpha", "0003"], tmp_path / "out")
    finally:
        with locker.cursor() as cursor:
            cursor.execute("ROLLBACK")
        locker.close()

    assert not recorded("0003_alter_contract")
    constraints = schema()["beta_club_members"]["constraints"]
    assert (
        "FOREIGN KEY (author_id) REFERENCES alpha_author(id) "
        "DEFERRABLE INITIALLY DEFERRED NOT VALID false"
    ) in constraints.values()
    migrate("alpha", "0003")
    assert all(
        definition.endswith(" true")
        for table in TABLES
        for definition in schema()[table]["constraints"].values()
    )
    assert recorded("0003_alter_contract")


def new_connection() -> Any:
    """Return a connection of its own to the test database, in autocommit."""
    from syzygy import compat

    other = compat.new_connection("default")
    other.ensure_connection()
    other.set_autocommit(True)
    return other


def test_elsewhere_the_contract_step_alters_the_key_as_alter_field_does(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys")
    migrate("beta", "0001")
    old = apps_at("0001_initial")
    Author, Book = old.get_model("alpha", "Author"), old.get_model("beta", "Book")
    Book.objects.create(title="kept", author=Author.objects.create(name="kept"))

    migrate("alpha", "0003")

    new = apps_at("0003_alter_contract")
    NewAuthor, NewBook = new.get_model("alpha", "Author"), new.get_model("beta", "Book")
    big = NewAuthor.objects.create(pk=2**40, name="big")
    NewBook.objects.create(title="big", author=big)
    assert NewBook.objects.get(title="big").author_id == 2**40
    assert NewBook.objects.get(title="kept").author.name == "kept"
    NewAuthor.objects.filter(pk=2**40).delete()
    migrate("alpha", "0001")
    assert Book.objects.get().author.name == "kept"


@postgresql_only
def test_sqlmigrate_shows_the_statements_of_each_step(use_scenario: Scenario) -> None:
    use_scenario("keys")
    before_anything = sqlmigrate("alpha", "0002")
    migrate("beta", "0001")
    expand = sqlmigrate("alpha", "0002")
    migrate("alpha", "0002")
    contract = sqlmigrate("alpha", "0003")
    migrate("alpha", "0003")
    backwards = sqlmigrate("alpha", "0003", backwards=True)

    # Before the tables exist, the key alone.
    assert '"alpha_author" ADD COLUMN IF NOT EXISTS "id_syzygy" bigint' in (
        before_anything
    )
    assert "beta_book" not in before_anything
    for table in ("alpha_author", "beta_book", "beta_profile", "beta_club_members"):
        assert f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS' in expand
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "alpha_author_alpha_author_pkey_' in expand
    assert "USING btree (club_id, author_id_syzygy)" in expand

    sql = contract
    assert "\nBEGIN;\n" in sql
    assert '"alpha_author" ALTER COLUMN "id_syzygy" ADD GENERATED BY DEFAULT' in sql
    assert "SELECT setval('\"alpha_author_id_seq_syzygy\"', last_value, " in sql
    assert 'ALTER TABLE "beta_book" DROP COLUMN IF EXISTS "author_id"' in sql
    assert 'ADD CONSTRAINT "alpha_author_pkey" PRIMARY KEY USING INDEX' in sql
    assert (
        'ADD CONSTRAINT "beta_club_members_club_id_author_id_870696af_uniq" UNIQUE '
        "USING INDEX"
    ) in sql
    assert 'ALTER SEQUENCE "alpha_author_id_seq_syzygy" RENAME TO' in sql
    assert "DEFERRABLE INITIALLY DEFERRED NOT VALID;" in sql
    assert 'VALIDATE CONSTRAINT "beta_book_author_id_d2ffd8dc_fk"' in sql
    assert '-- Copy "id" to "id_syzygy"' in backwards


def sqlmigrate(app_label: str, name: str, backwards: bool = False) -> str:
    output = StringIO()
    call_command("sqlmigrate", app_label, name, backwards=backwards, stdout=output)
    return output.getvalue()


def stock_and_ours(
    use_scenario: Scenario, prepare: str, then: Callable[[], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the schemas stock AlterField and the expand and contract steps
    leave, each from the scenario's initial schema and rows changed by the
    SQL ``prepare``; ``then`` runs after each."""
    schemas = []
    for scenario, target in (("keys_stock", "0002"), ("keys", "0003")):
        use_scenario(scenario)
        migrate("beta", "0001")
        seed(10)
        with connection.cursor() as cursor:
            cursor.execute(prepare)
        migrate("alpha", target)
        schemas.append(schema())
        if then is not None:
            then()
        migrate("alpha", "zero")
    stock, ours = schemas
    return stock, ours


@postgresql_only
def test_a_serial_key_keeps_its_sequence_of_the_new_type(
    use_scenario: Scenario,
) -> None:
    def next_key() -> None:
        Author = apps_at("0001_initial").get_model("alpha", "Author")
        assert Author.objects.create(name="next").pk == 11

    # As Django made keys before identity columns (4.1).
    stock, ours = stock_and_ours(
        use_scenario,
        "ALTER TABLE alpha_author ALTER COLUMN id DROP IDENTITY; "
        "CREATE SEQUENCE alpha_author_id_seq AS integer OWNED BY alpha_author.id; "
        "SELECT setval('alpha_author_id_seq', 10); "
        "ALTER TABLE alpha_author ALTER COLUMN id "
        "SET DEFAULT nextval('alpha_author_id_seq')",
        then=next_key,
    )

    assert ours == stock
    assert ours["sequences"][0][:2] == ("alpha_author_id_seq", "bigint")
    assert ours["alpha_author"]["columns"]["id"][2] == (
        "nextval('alpha_author_id_seq'::regclass)"
    )


@postgresql_only
def test_every_index_and_constraint_follows_the_new_columns(
    use_scenario: Scenario,
) -> None:
    stock, ours = stock_and_ours(
        use_scenario,
        "CREATE INDEX beta_book_title_author ON beta_book (title, author_id) "
        "WHERE author_id > 0; "
        "ALTER TABLE beta_book ADD CONSTRAINT beta_book_title_or_author "
        "CHECK (author_id > 0 OR title <> ''); "
        "ALTER TABLE beta_profile ADD CONSTRAINT beta_profile_bio_author "
        "UNIQUE (bio, author_id) DEFERRABLE INITIALLY DEFERRED; "
        # Made by hand: no field defines them.
        "CREATE UNIQUE INDEX alpha_author_id_again ON alpha_author (id); "
        "CREATE INDEX beta_book_author_desc ON beta_book (author_id DESC); "
        "ALTER TABLE beta_book ADD CONSTRAINT beta_book_author_positive "
        "CHECK (author_id > 0)",
    )

    assert ours == stock
    assert ours["beta_book"]["indexes"]["beta_book_title_author"].endswith(
        "USING btree (title, author_id) WHERE (author_id > 0)"
    )
    assert "alpha_author_id_again" in ours["alpha_author"]["indexes"]
    assert "beta_book_author_desc" in ours["beta_book"]["indexes"]
    assert ours["beta_profile"]["constraints"]["beta_profile_bio_author"] == (
        "UNIQUE (bio, author_id) DEFERRABLE INITIALLY DEFERRED true"
    )


@postgresql_only
def test_a_key_without_sequence_and_references_without_constraint(
    use_scenario: Scenario,
) -> None:
    from django.db import models
    from django.db.migrations.state import ModelState, ProjectState

    from syzygy.operations import ContractAlterField

    state = ProjectState()
    state.add_model(
        ModelState("alpha", "Code", [("code", models.IntegerField(primary_key=True))])
    )
    reference = models.ForeignKey("alpha.Code", models.CASCADE, db_constraint=False)
    state.add_model(
        ModelState(
            "alpha",
            "Use",
            [("id", models.AutoField(primary_key=True)), ("code", reference)],
        )
    )
    altered = state.clone()
    contract = ContractAlterField(
        "code", "code", models.BigIntegerField(primary_key=True)
    )
    contract.state_forwards("alpha", altered)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        contract.database_forwards("alpha", editor, state, altered)
    sql = "\n".join(editor.collected_sql)

    assert 'ALTER TABLE "alpha_use" DROP COLUMN IF EXISTS "code_id"' in sql
    assert "SEQUENCE" not in sql
    assert "FOREIGN KEY" not in sql


@postgresql_only
def test_two_keys_a_many_to_many_table_references_are_widened_in_one_deploy(
    use_scenario: Scenario,
) -> None:
    use_scenario("keys_both")
    migrate("beta", "0001")
    seed(1_000)
    before = schema()["beta_club_members"]

    call_command("migrate", verbosity=0, pre_deploy=True)
    call_command("migrate", verbosity=0)

    after = schema()["beta_club_members"]
    assert {name: kind for name, (kind, *_) in after["columns"].items()} == {
        "id": "integer",
        "club_id": "bigint",
        "author_id": "bigint",
    }
    assert after["indexes"] == before["indexes"]
    assert (
        named_as_altered(schema())["beta_club_members"]["constraints"]
        == (
            named_as_altered({**schema(), "beta_club_members": before})[
                "beta_club_members"
            ]["constraints"]
        )
    )
    assert fetch("SELECT count(*) FROM beta_club_members") == [(1_000,)]


def test_the_steps_of_a_key_say_they_cover_the_columns_referencing_it() -> None:
    from django.db import models

    from syzygy.operations import ContractAlterField, ExpandAlterField

    key = models.BigAutoField(primary_key=True)
    assert ExpandAlterField("author", "id", key).describe() == (
        "Add columns of the new type to the key id of author and to every column "
        "referencing it, in sync until the contract step (pre-deploy)"
    )
    assert ContractAlterField("author", "id", key).describe() == (
        "Alter field id on author: swap in the columns of the new type, the key's "
        "and those referencing it (post-deploy)"
    )
