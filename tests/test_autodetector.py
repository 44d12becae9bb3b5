"""The autodetector's rules on project states, without the command."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import migrations, models
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.questioner import (
    MigrationQuestioner,
    NonInteractiveMigrationQuestioner,
)
from django.db.migrations.state import ModelState, ProjectState
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.autodetector import MakemigrationsAborted, MigrationAutodetector
from syzygy.operations import (
    AddIndexConcurrently,
    AlterFieldConcurrently,
    RenameField,
    RenameModelInState,
)
from syzygy.plan import operation_stage, pre_deploy_plan
from syzygy.questioner import NonInteractiveStageQuestions

ID = ("id", models.AutoField(primary_key=True))


def state(*models_: ModelState) -> ProjectState:
    project = ProjectState()
    for model in models_:
        project.add_model(model)
    return project


def author(*fields: tuple[str, Any], **options: Any) -> ModelState:
    return ModelState("alpha", "Author", [ID, *fields], options)


def changes(
    before: ProjectState, after: ProjectState, questioner: Any = None
) -> dict[str, list[migrations.Migration]]:
    if questioner is None:
        # What migrate passes: Django's programmatic questioner.
        questioner = MigrationQuestioner(specified_apps={"alpha", "beta"})
    detector = MigrationAutodetector(before, after, questioner)
    return detector.changes(graph=MigrationGraph())


def renaming_questioner() -> NonInteractiveMigrationQuestioner:
    logged: list[str] = []
    return NonInteractiveMigrationQuestioner(
        defaults={"ask_rename": True, "ask_rename_model": True},
        specified_apps={"alpha", "beta"},
        log=logged.append,
    )


def test_non_interactive_rename_field_refuses_with_the_recipe() -> None:
    before = state(author(("bio", models.TextField())))
    after = state(author(("biography", models.TextField())))
    with pytest.raises(MakemigrationsAborted) as aborted:
        changes(before, after, renaming_questioner())
    assert str(aborted.value) == (
        "Renaming alpha.author.bio to biography renames a column in use. To rename "
        "it safely, either keep the column with db_column='bio' on "
        "alpha.author.biography, or: add biography as a new field, deploy code that "
        "writes both fields, copy the values over, deploy code that only uses "
        "biography, then remove bio."
    )


def test_rename_foreign_key_renames_its_column() -> None:
    publisher = ModelState("alpha", "Publisher", [ID])
    before = state(
        publisher,
        author(("publisher", models.ForeignKey("alpha.Publisher", models.CASCADE))),
    )
    after = state(
        publisher,
        author(("imprint", models.ForeignKey("alpha.Publisher", models.CASCADE))),
    )
    with pytest.raises(MakemigrationsAborted, match="db_column='publisher_id'"):
        changes(before, after, renaming_questioner())
    kept = state(
        publisher,
        author(
            (
                "imprint",
                models.ForeignKey(
                    "alpha.Publisher", models.CASCADE, db_column="publisher_id"
                ),
            )
        ),
    )
    (migration,) = changes(before, kept, renaming_questioner())["alpha"]
    assert any(
        type(operation) is migrations.RenameField for operation in migration.operations
    )


def test_rename_model_renames_its_table_in_an_expand_and_a_contract() -> None:
    before = state(author(("bio", models.TextField())))
    after = state(ModelState("alpha", "Writer", [ID, ("bio", models.TextField())]))
    expand, contract = changes(before, after, renaming_questioner())["alpha"]
    assert [operation.deconstruct() for operation in expand.operations] == [
        (
            "RenameModelInState",
            [],
            {"old_name": "Author", "new_name": "Writer", "db_table": "alpha_author"},
        ),
        ("ExpandAlterModelTable", [], {"name": "Writer", "table": None}),
    ]
    assert [operation.deconstruct() for operation in contract.operations] == [
        ("ContractAlterModelTable", [], {"name": "Writer", "old_table": "alpha_author"})
    ]


def test_non_interactive_rename_model_of_many_to_many_refuses_with_the_recipe() -> None:
    before = state(author(("friends", models.ManyToManyField("alpha.Author"))))
    after = state(
        ModelState(
            "alpha", "Writer", [ID, ("friends", models.ManyToManyField("alpha.Writer"))]
        )
    )
    with pytest.raises(MakemigrationsAborted, match="Set db_table = 'alpha_author'"):
        changes(before, after, renaming_questioner())


def test_rename_model_keeping_its_table_is_not_staged() -> None:
    before = state(author(("bio", models.TextField())))
    after = state(
        ModelState(
            "alpha",
            "Writer",
            [ID, ("bio", models.TextField())],
            {"db_table": "alpha_author"},
        )
    )
    (migration,) = changes(before, after, renaming_questioner())["alpha"]
    # Renamed in the state only: the table stays, and so do the foreign keys
    # to it, which RenameModel would re-create on the database.
    (rename,) = migration.operations
    assert isinstance(rename, RenameModelInState)
    assert rename.deconstruct() == (
        "RenameModelInState",
        [],
        {"old_name": "Author", "new_name": "Writer", "db_table": "alpha_author"},
    )


def test_programmatic_callers_get_changes_without_questions() -> None:
    """``migrate`` asks the autodetector whether models have unmigrated changes."""
    before = state(author(("tags", models.ManyToManyField("alpha.Author"))))
    after = state(
        author(("tags", models.ForeignKey("alpha.Author", models.CASCADE, null=True)))
    )
    with override_settings(SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS="abort"):
        migration, lock_safe = changes(before, after)["alpha"]
    assert len(migration.operations) == 2
    assert [type(operation) for operation in lock_safe.operations] == [
        AlterFieldConcurrently
    ]


def test_unrelated_pre_deploy_operations_move_before_post_deploy_ones() -> None:
    before = state(
        author(("bio", models.TextField(null=True)), ("name", models.TextField()))
    )
    after = state(
        author(("name", models.TextField()), ("rating", models.IntegerField(null=True)))
    )
    pre, post = changes(before, after)["alpha"]
    assert [operation.describe() for operation in pre.operations] == [
        "Add field rating to author"
    ]
    assert [operation.describe() for operation in post.operations] == [
        "Remove field bio from author"
    ]
    assert post.dependencies == [("alpha", pre.name)]


def test_split_migrations_keep_cross_app_dependencies_on_the_pre_deploy_part() -> None:
    before = state(author(("bio", models.TextField(null=True))))
    book = ModelState(
        "beta",
        "Book",
        [ID, ("author", models.ForeignKey("alpha.Author", models.CASCADE))],
    )
    after = state(author(("rating", models.IntegerField(null=True))), book)
    result = changes(before, after)
    pre, post = result["alpha"]
    (beta,) = result["beta"]
    assert ("alpha", pre.name) in beta.dependencies
    assert ("alpha", post.name) not in beta.dependencies
    assert all(
        dependency[0] != "__syzygy_stage_boundary__" for dependency in post.dependencies
    )


def test_staged_rename_keeps_its_stage_through_the_optimizer() -> None:
    rename = RenameField("author", "bio", "biography", stage=Stage.POST_DEPLOY)
    other = migrations.AddField("author", "rating", models.IntegerField(null=True))
    assert rename.reduce(other, "alpha") is True


def test_blank_field_without_default_is_split_without_warning() -> None:
    logged: list[str] = []
    questioner = NonInteractiveMigrationQuestioner(
        specified_apps={"alpha"}, log=logged.append
    )
    before = state(author(("bio", models.TextField())))
    after = state(
        author(
            ("bio", models.TextField()),
            ("title", models.CharField(max_length=5, blank=True)),
        )
    )
    pre, _ = changes(before, after, questioner)["alpha"]
    assert pre.operations[0].field.db_default == ""
    assert logged == []


def test_dependents_in_other_apps_wait_only_for_what_they_need() -> None:
    """A model of one app referenced by two others, one referencing the other."""
    before = state(author(("bio", models.TextField(null=True))))
    tag = ModelState("alpha", "Tag", [ID])
    gamma = ModelState(
        "gamma", "G", [ID, ("tag", models.ForeignKey("alpha.Tag", models.CASCADE))]
    )
    beta = ModelState(
        "beta",
        "B",
        [
            ID,
            ("tag", models.ForeignKey("alpha.Tag", models.CASCADE)),
            ("g", models.ForeignKey("gamma.G", models.CASCADE)),
            ("d", models.ForeignKey("delta.D", models.CASCADE)),
        ],
    )
    # An app without changes: beta depends on its existing migrations.
    delta = ModelState("delta", "D", [ID])
    before.add_model(delta)
    after = state(author(), tag, gamma, beta, delta)
    questioner = MigrationQuestioner(specified_apps={"alpha", "beta", "gamma"})
    result = MigrationAutodetector(before, after, questioner).changes(
        graph=MigrationGraph()
    )
    _, post = result["alpha"]
    assert [op.describe() for op in post.operations] == ["Remove field bio from author"]
    for app_label in ("beta", "gamma"):
        (migration,) = result[app_label]
        assert ("alpha", post.name) not in migration.dependencies
    assert ("delta", "__first__") in result["beta"][0].dependencies
    # The written migrations make a plan that splits at the deploy.
    graph = MigrationGraph()
    migrations_ = [m for app in result.values() for m in app]
    for migration in migrations_:
        graph.add_node((migration.app_label, migration.name), migration)
    for migration in migrations_:
        for parent in migration.dependencies:
            if parent[0] != "delta":  # Applied long ago.
                key = (migration.app_label, migration.name)
                graph.add_dependency(migration, key, parent)
    plan = [
        (graph.nodes[key], False)
        for key in graph.forwards_plan(("beta", result["beta"][0].name))
    ]
    plan.append((post, False))
    kept = pre_deploy_plan(plan, graph)
    assert (post, False) not in kept
    assert len(kept) == len(plan) - 1


def test_generated_fields_need_no_pre_deploy_step() -> None:
    logged: list[str] = []
    questioner = NonInteractiveMigrationQuestioner(
        specified_apps={"alpha"}, log=logged.append
    )
    rating = ("rating", models.IntegerField())
    doubled = (
        "doubled",
        models.GeneratedField(
            expression=models.F("rating") * 2,
            output_field=models.IntegerField(),
            db_persist=True,
        ),
    )
    (added,) = changes(
        state(author(rating)), state(author(rating, doubled)), questioner
    )["alpha"]
    assert [type(operation) for operation in added.operations] == [migrations.AddField]
    (removed,) = changes(
        state(author(rating, doubled)), state(author(rating)), questioner
    )["alpha"]
    assert [type(operation) for operation in removed.operations] == [
        migrations.RemoveField
    ]
    assert logged == []


def test_programmatic_callers_get_table_rewrites_without_questions() -> None:
    before = state(author(("rating", models.IntegerField())))
    after = state(author(("rating", models.BigIntegerField())))
    (migration,) = changes(before, after)["alpha"]
    assert [type(operation) for operation in migration.operations] == [
        migrations.AlterField
    ]


def test_foreign_key_over_a_column_of_the_same_type_is_not_a_table_rewrite() -> None:
    publisher = ModelState("alpha", "Publisher", [ID])
    before = state(
        publisher,
        author(("publisher", models.IntegerField(db_column="publisher_id"))),
    )
    after = state(
        publisher,
        author(
            (
                "publisher",
                models.ForeignKey(
                    "alpha.Publisher", models.CASCADE, db_column="publisher_id"
                ),
            )
        ),
    )
    (migration,) = changes(before, after, renaming_questioner())["alpha"]
    assert [type(operation) for operation in migration.operations] == [
        AlterFieldConcurrently
    ]


def test_foreign_key_over_a_column_of_another_type_is_a_table_rewrite() -> None:
    publisher = ModelState("alpha", "Publisher", [ID])
    before = state(publisher, author(("publisher", models.CharField(max_length=10))))
    after = state(
        publisher,
        author(("publisher", models.OneToOneField("alpha.Publisher", models.CASCADE))),
    )
    with pytest.raises(MakemigrationsAborted, match="without locking the table"):
        changes(before, after, renaming_questioner())


def test_added_fields_lose_their_constraints_until_a_lock_safe_alteration() -> None:
    publisher = ModelState("alpha", "Publisher", [ID])
    before = state(publisher, author())
    after = state(
        publisher,
        author(
            ("code", models.CharField(max_length=10, null=True, unique=True)),
            (
                "editor",
                models.OneToOneField("alpha.Publisher", models.CASCADE, null=True),
            ),
        ),
    )
    migration, lock_safe = changes(before, after)["alpha"]
    added = {operation.name: operation for operation in migration.operations}
    assert added["code"].field.unique is False
    # A one-to-one field is unique by definition: added as it is.
    assert added["editor"].field.unique is True
    (alteration,) = lock_safe.operations
    assert isinstance(alteration, AlterFieldConcurrently)
    assert alteration.field.unique is True
    assert lock_safe.atomic is False


def test_operations_outside_transactions_keep_their_order_when_they_must() -> None:
    from syzygy.autodetector import _transaction_segments

    index = models.Index(fields=["name"], name="name_idx")
    add_index = AddIndexConcurrently("author", index)
    rename = migrations.RenameIndex("author", new_name="renamed", old_name="name_idx")
    add_field = migrations.AddField("book", "bio", models.TextField(null=True))
    # An unrelated operation moves before it...
    assert _transaction_segments([add_index, add_field], "alpha") == [
        [add_field],
        [add_index],
    ]
    # ...one on the same table stays after it.
    assert _transaction_segments([add_index, rename], "alpha") == [
        [add_index],
        [rename],
    ]
    removal = migrations.RemoveField("author", "name")
    assert _transaction_segments([add_index, removal], "alpha") == [
        [add_index],
        [removal],
    ]
    # Django's optimizer decides for the other operations.
    alteration = AlterFieldConcurrently(
        "author", "name", models.CharField(max_length=10, db_index=True)
    )
    other_field = migrations.AddField("author", "bio", models.TextField(null=True))
    assert _transaction_segments([alteration, other_field], "alpha") == [
        [other_field],
        [alteration],
    ]
    assert _transaction_segments([alteration, removal], "alpha") == [
        [alteration],
        [removal],
    ]


class WarningQuestioner(NonInteractiveMigrationQuestioner):
    """Answers Django's rename questions yes, and records syzygy's warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        super().__init__(
            defaults={"ask_rename": True},
            specified_apps={"alpha", "beta"},
            log=self.warnings.append,
        )


@pytest.mark.parametrize(
    ("before", "after", "obstacle"),
    [
        (
            [author(("bio", models.TextField()), unique_together={("bio",)})],
            [
                author(
                    ("biography", models.TextField()), unique_together={("biography",)}
                )
            ],
            "it is in unique_together",
        ),
        (
            [
                author(
                    ("bio", models.TextField()),
                    constraints=[
                        models.CheckConstraint(
                            condition=~models.Q(bio=""), name="bio_not_empty"
                        )
                    ],
                )
            ],
            [
                author(
                    ("biography", models.TextField()),
                    constraints=[
                        models.CheckConstraint(
                            condition=~models.Q(biography=""), name="bio_not_empty"
                        )
                    ],
                )
            ],
            "Meta.constraints has 'bio_not_empty', which uses it",
        ),
        (
            [
                author(("code", models.CharField(max_length=5, unique=True))),
                ModelState(
                    "alpha",
                    "Book",
                    [
                        ID,
                        (
                            "author",
                            models.ForeignKey(
                                "alpha.Author", models.CASCADE, to_field="code"
                            ),
                        ),
                    ],
                ),
            ],
            [
                author(("isbn", models.CharField(max_length=5, unique=True))),
                ModelState(
                    "alpha",
                    "Book",
                    [
                        ID,
                        (
                            "author",
                            models.ForeignKey(
                                "alpha.Author", models.CASCADE, to_field="isbn"
                            ),
                        ),
                    ],
                ),
            ],
            "the foreign key alpha.book.author points to it",
        ),
        (
            [
                ModelState(
                    "alpha", "Author", [("code", models.IntegerField(primary_key=True))]
                )
            ],
            [
                ModelState(
                    "alpha", "Author", [("key", models.IntegerField(primary_key=True))]
                )
            ],
            "it is the primary key",
        ),
    ],
)
def test_a_rename_without_downtime_is_not_offered_where_it_cant_work(
    before: list[ModelState], after: list[ModelState], obstacle: str
) -> None:
    questioner = WarningQuestioner()
    with pytest.raises(MakemigrationsAborted):
        changes(state(*before), state(*after), questioner)
    assert f"It can't be renamed without downtime: {obstacle}." in "".join(
        questioner.warnings
    )


def test_a_rename_without_downtime_is_offered_for_a_plain_column() -> None:
    questioner = WarningQuestioner()
    with pytest.raises(MakemigrationsAborted):
        changes(
            state(author(("bio", models.TextField()))),
            state(author(("biography", models.TextField()))),
            questioner,
        )
    assert "without downtime" not in "".join(questioner.warnings)


def test_a_rename_without_downtime_ignores_indexes_of_other_fields() -> None:
    questioner = WarningQuestioner()
    index = models.Index(fields=["name"], name="author_name")
    with pytest.raises(MakemigrationsAborted):
        changes(
            state(
                author(
                    ("bio", models.TextField()),
                    ("name", models.TextField()),
                    indexes=[index],
                )
            ),
            state(
                author(
                    ("biography", models.TextField()),
                    ("name", models.TextField()),
                    indexes=[index],
                )
            ),
            questioner,
        )
    assert "without downtime" not in "".join(questioner.warnings)


def rewrite_changes(
    before: models.Field[Any, Any], after: models.Field[Any, Any]
) -> Any:
    questioner = WarningQuestioner()
    written = changes(
        state(author(("rating", before))), state(author(("rating", after))), questioner
    )
    return [
        type(operation).__name__
        for migration in written["alpha"]
        for operation in migration.operations
    ]


def test_a_wider_integer_type_is_an_expand_and_a_contract() -> None:
    assert rewrite_changes(models.SmallIntegerField(), models.IntegerField()) == [
        "ExpandAlterField",
        "ContractAlterField",
    ]
    assert rewrite_changes(
        models.PositiveSmallIntegerField(null=True), models.BigIntegerField(null=True)
    ) == ["ExpandAlterField", "ContractAlterField"]


def key_changes(
    before: models.Field[Any, Any], after: models.Field[Any, Any], *others: ModelState
) -> tuple[list[str], WarningQuestioner]:
    """Return the operations written for a change of the primary key of
    alpha.Author, which beta.Book references, and the questioner."""
    book = ModelState(
        "beta",
        "Book",
        [ID, ("author", models.ForeignKey("alpha.Author", models.CASCADE))],
    )
    questioner = WarningQuestioner()
    written = changes(
        state(ModelState("alpha", "Author", [("id", before)]), book, *others),
        state(ModelState("alpha", "Author", [("id", after)]), book, *others),
        questioner,
    )
    operations = [
        type(operation).__name__
        for migrations_ in written.values()
        for migration in migrations_
        for operation in migration.operations
    ]
    return operations, questioner


def test_a_wider_primary_key_is_an_expand_and_a_contract_without_question() -> None:
    for before, after in (
        (models.AutoField(primary_key=True), models.BigAutoField(primary_key=True)),
        (models.SmallAutoField(primary_key=True), models.AutoField(primary_key=True)),
        (
            models.IntegerField(primary_key=True),
            models.BigIntegerField(primary_key=True),
        ),
    ):
        operations, questioner = key_changes(before, after)
        assert operations == ["ExpandAlterField", "ContractAlterField"]
        assert questioner.warnings == []


def test_a_primary_key_a_child_model_shares_is_not_widened_in_steps() -> None:
    child = ModelState(
        "beta",
        "Writer",
        [
            (
                "author_ptr",
                models.OneToOneField(
                    "alpha.Author", models.CASCADE, parent_link=True, primary_key=True
                ),
            )
        ],
        bases=("alpha.author",),
    )
    with pytest.raises(MakemigrationsAborted, match="without locking the table"):
        key_changes(
            models.AutoField(primary_key=True),
            models.BigAutoField(primary_key=True),
            child,
        )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # Narrower: values may not fit.
        (models.BigIntegerField(), models.IntegerField()),
        # Not a widening of integers.
        (models.IntegerField(), models.FloatField()),
        # NOT NULL added: the deployed code may still write NULL.
        (models.IntegerField(null=True), models.BigIntegerField()),
    ],
)
def test_other_type_changes_are_refused_without_a_question(
    before: models.Field[Any, Any], after: models.Field[Any, Any]
) -> None:
    with pytest.raises(MakemigrationsAborted, match="without locking the table"):
        rewrite_changes(before, after)


def test_a_type_change_of_a_column_in_a_constraint_is_refused() -> None:
    constraint = models.UniqueConstraint(fields=["rating", "id"], name="rating_id")
    with pytest.raises(MakemigrationsAborted, match="without locking the table"):
        changes(
            state(author(("rating", models.IntegerField()), constraints=[constraint])),
            state(
                author(("rating", models.BigIntegerField()), constraints=[constraint])
            ),
            WarningQuestioner(),
        )


def test_a_many_to_many_field_renamed_renames_its_table_with_a_view() -> None:
    questioner = WarningQuestioner()
    with pytest.raises(MakemigrationsAborted) as aborted:
        changes(
            state(author(("friends", models.ManyToManyField("alpha.Author")))),
            state(author(("pals", models.ManyToManyField("alpha.Author")))),
            questioner,
        )
    assert (
        "Renaming the field alpha.author.friends renames its table "
        "alpha_author_friends:"
    ) in "".join(questioner.warnings)
    # Nothing stands in the way of a rename without downtime.
    assert "can't be renamed without downtime" not in "".join(questioner.warnings)
    assert "keep the table with db_table='alpha_author_friends'" in str(aborted.value)


def test_a_many_to_many_field_of_its_own_table_is_renamed_without_question() -> None:
    for options in ({"db_table": "friendships"}, {"through": "alpha.Friendship"}):
        friendship = ModelState(
            "alpha",
            "Friendship",
            [
                ID,
                ("one", models.ForeignKey("alpha.Author", models.CASCADE, "+")),
                ("other", models.ForeignKey("alpha.Author", models.CASCADE, "+")),
            ],
        )
        field = {"through_fields": ("one", "other")} if "through" in options else {}
        before = state(
            friendship,
            author(
                ("friends", models.ManyToManyField("alpha.Author", **options, **field))
            ),
        )
        after = state(
            friendship,
            author(
                ("pals", models.ManyToManyField("alpha.Author", **options, **field))
            ),
        )
        (migration,) = changes(before, after, WarningQuestioner())["alpha"]
        assert [type(each).__name__ for each in migration.operations] == ["RenameField"]


def test_a_rename_of_many_to_many_tables_at_a_chosen_stage_keeps_its_table_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        NonInteractiveStageQuestions,
        "ask_rename_stage",
        lambda self, *args, **kwargs: Stage.PRE_DEPLOY,
    )
    before = state(author(("friends", models.ManyToManyField("alpha.Author"))))
    after = state(
        ModelState(
            "alpha",
            "Writer",
            [ID, ("friends", models.ManyToManyField("alpha.Writer"))],
            {"db_table": "writers"},
        )
    )
    (migration,) = changes(before, after, renaming_questioner())["alpha"]
    assert [type(each).__name__ for each in migration.operations] == [
        "RenameModel",
        "AlterModelTable",
    ]
    assert migration.operations[0].stage is Stage.PRE_DEPLOY


def written_operations(before: ProjectState, after: ProjectState) -> list[str]:
    """Return the operations written, each as ``stage Type field``."""
    written = changes(before, after, WarningQuestioner())
    return [
        f"{operation_stage(operation).name} {type(operation).__name__} "
        f"{getattr(operation, 'name', '')}"
        for migrations_ in written.values()
        for migration in migrations_
        for operation in migration.operations
    ]


def book(*fields: tuple[str, Any]) -> ModelState:
    return ModelState("alpha", "Book", [ID, *fields])


def test_a_relation_removed_loses_its_constraint_before_the_deploy() -> None:
    shelf = ModelState("alpha", "Shelf", [ID])
    relations = {
        "author": models.ForeignKey("alpha.Author", models.CASCADE, null=True),
        "editor": models.ForeignKey("alpha.Author", models.CASCADE, "+"),
        "shelf": models.OneToOneField("alpha.Shelf", models.CASCADE, null=True),
        "readers": models.ManyToManyField("alpha.Author", related_name="+"),
        "loose": models.ForeignKey(
            "alpha.Author", models.CASCADE, "+", null=True, db_constraint=False
        ),
    }
    before = state(author(), shelf, book(*relations.items()))
    after = state(author(), shelf, book())

    operations_ = written_operations(before, after)

    assert sorted(op for op in operations_ if op.startswith("PRE_DEPLOY")) == [
        "PRE_DEPLOY AlterField author",
        "PRE_DEPLOY AlterField readers",
        "PRE_DEPLOY AlterField shelf",
        # NOT NULL: NULLable too, in the same operation.
        "PRE_DEPLOY PreRemoveField editor",
    ]
    written = changes(before, after, WarningQuestioner())
    altered = {
        operation.name: operation
        for migration in written["alpha"]
        for operation in migration.operations
        if operation_stage(operation) is Stage.PRE_DEPLOY
    }
    assert all(
        operation.field.deconstruct()[3]["db_constraint"] is False
        for operation in altered.values()
    )
    assert altered["editor"].field.null is True


def test_a_model_deleted_loses_the_constraints_to_models_that_stay() -> None:
    before = state(
        author(),
        ModelState("alpha", "Shelf", [ID]),
        book(
            ("author", models.ForeignKey("alpha.Author", models.CASCADE)),
            ("shelf", models.ForeignKey("alpha.Shelf", models.CASCADE)),
        ),
    )
    after = state(author())

    assert sorted(written_operations(before, after)) == [
        "POST_DEPLOY DeleteModel Book",
        "POST_DEPLOY DeleteModel Shelf",
        # Not the one to a model deleted too.
        "PRE_DEPLOY AlterField author",
    ]
