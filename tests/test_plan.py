from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.apps import apps
from django.db import migrations, models
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.test.utils import override_settings
from hypothesis import event, given, settings
from hypothesis import strategies as st

from syzygy import AmbiguousPlan, AmbiguousStage, Stage
from syzygy.conf import StageConfig
from syzygy.operations import AlterField, PostAddField
from syzygy.plan import (
    Origin,
    PlannedStep,
    ResolvedStage,
    migration_stage,
    operation_stage,
    plan_stages,
    pre_deploy_plan,
)

PRE_OPERATION = migrations.AddField("author", "rating", models.IntegerField(null=True))
POST_OPERATION = migrations.RemoveField("author", "bio")


def make_migration(
    app_label: str,
    name: str,
    *operations: Any,
    stage: Stage | None = None,
    dependencies: Sequence[tuple[str, str]] = (),
) -> migrations.Migration:
    attributes: dict[str, Any] = {
        "operations": list(operations),
        "dependencies": list(dependencies),
    }
    if stage is not None:
        attributes["stage"] = stage
    return type("Migration", (migrations.Migration,), attributes)(name, app_label)


def make_graph(*migrations_: migrations.Migration) -> MigrationGraph:
    graph = MigrationGraph()
    for migration in migrations_:
        graph.add_node((migration.app_label, migration.name), migration)
    for migration in migrations_:
        for parent in migration.dependencies:
            graph.add_dependency(
                migration, (migration.app_label, migration.name), parent
            )
    return graph


def config(**changes: Any) -> StageConfig:
    values: dict[str, Any] = {
        "override": {},
        "fallback": {},
        "third_party_fallback": Stage.PRE_DEPLOY,
        "third_party_apps": frozenset(),
        **changes,
    }
    return StageConfig(**values)


def names(plan: Sequence[tuple[migrations.Migration, bool]]) -> list[str]:
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


# Operations


def test_remove_field_and_delete_model_are_post_deploy() -> None:
    assert operation_stage(POST_OPERATION) is Stage.POST_DEPLOY
    assert operation_stage(migrations.DeleteModel("Author")) is Stage.POST_DEPLOY


def test_other_operations_are_pre_deploy() -> None:
    assert operation_stage(PRE_OPERATION) is Stage.PRE_DEPLOY
    assert operation_stage(migrations.RunSQL("SELECT 1")) is Stage.PRE_DEPLOY


def test_explicit_operation_stage_wins() -> None:
    field = models.TextField()
    assert operation_stage(AlterField("a", "b", field, stage=Stage.POST_DEPLOY)) is (
        Stage.POST_DEPLOY
    )
    assert operation_stage(PostAddField("a", "b", field)) is Stage.POST_DEPLOY


# Migrations


def test_migration_stage_is_inferred_from_common_operation_stage() -> None:
    migration = make_migration("alpha", "0002", POST_OPERATION, POST_OPERATION)
    assert migration_stage(migration, config()) == ResolvedStage(
        Stage.POST_DEPLOY, Origin.INFERRED
    )


def test_defined_migration_stage_beats_inference() -> None:
    migration = make_migration("alpha", "0002", POST_OPERATION, stage=Stage.PRE_DEPLOY)
    assert migration_stage(migration, config()) == ResolvedStage(
        Stage.PRE_DEPLOY, Origin.DEFINED
    )


def test_override_beats_defined_stage() -> None:
    migration = make_migration("alpha", "0002", POST_OPERATION, stage=Stage.PRE_DEPLOY)
    overridden = config(override={"alpha.0002": Stage.POST_DEPLOY})
    assert migration_stage(migration, overridden) == ResolvedStage(
        Stage.POST_DEPLOY, Origin.OVERRIDE
    )


def test_override_by_migration_name_beats_override_by_app() -> None:
    migration = make_migration("alpha", "0002", PRE_OPERATION)
    overridden = config(
        override={"alpha": Stage.POST_DEPLOY, "alpha.0002": Stage.PRE_DEPLOY}
    )
    assert migration_stage(migration, overridden).stage is Stage.PRE_DEPLOY
    other = make_migration("alpha", "0003", PRE_OPERATION)
    assert migration_stage(other, overridden).stage is Stage.POST_DEPLOY


def test_mixed_operations_are_ambiguous() -> None:
    migration = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    with pytest.raises(AmbiguousStage, match=r"alpha\.0002"):
        migration_stage(migration, config())


def test_fallback_settles_mixed_operations_only() -> None:
    fallback = config(fallback={"alpha": Stage.POST_DEPLOY})
    mixed = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    assert migration_stage(mixed, fallback) == ResolvedStage(
        Stage.POST_DEPLOY, Origin.FALLBACK
    )
    uniform = make_migration("alpha", "0003", PRE_OPERATION)
    assert migration_stage(uniform, fallback).origin is Origin.INFERRED


def test_fallback_by_migration_name_beats_fallback_by_app() -> None:
    fallback = config(
        fallback={"alpha": Stage.POST_DEPLOY, "alpha.0002": Stage.PRE_DEPLOY}
    )
    mixed = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    assert migration_stage(mixed, fallback).stage is Stage.PRE_DEPLOY


def test_third_party_apps_fall_back_after_the_fallback_setting() -> None:
    mixed = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    third_party = config(
        third_party_apps=frozenset({"alpha"}), third_party_fallback=Stage.POST_DEPLOY
    )
    assert migration_stage(mixed, third_party) == ResolvedStage(
        Stage.POST_DEPLOY, Origin.THIRD_PARTY_FALLBACK
    )
    both = config(
        third_party_apps=frozenset({"alpha"}), fallback={"alpha": Stage.PRE_DEPLOY}
    )
    assert migration_stage(mixed, both).origin is Origin.FALLBACK
    disabled = config(third_party_apps=frozenset({"alpha"}), third_party_fallback=None)
    with pytest.raises(AmbiguousStage):
        migration_stage(mixed, disabled)


def test_installed_third_party_migration_uses_the_third_party_fallback() -> None:
    # contenttypes.0002 alters, runs Python and removes a field.
    migration = MigrationLoader(None).get_migration(
        "contenttypes", "0002_remove_content_type_name"
    )
    assert migration_stage(migration) == ResolvedStage(
        Stage.PRE_DEPLOY, Origin.THIRD_PARTY_FALLBACK
    )
    with override_settings(MIGRATION_THIRD_PARTY_STAGES_FALLBACK=Stage.POST_DEPLOY):
        assert migration_stage(migration).stage is Stage.POST_DEPLOY
    with (
        override_settings(MIGRATION_THIRD_PARTY_STAGES_FALLBACK=None),
        pytest.raises(AmbiguousStage),
    ):
        migration_stage(migration)


def test_third_party_fallback_does_not_touch_the_fallback_setting() -> None:
    fallback: dict[str, Stage] = {}
    with override_settings(MIGRATION_STAGES_FALLBACK=fallback):
        migration = MigrationLoader(None).get_migration(
            "contenttypes", "0002_remove_content_type_name"
        )
        migration_stage(migration)
        apps.get_app_config("syzygy").ready()
    assert fallback == {}


def test_migration_without_operations_has_no_stage() -> None:
    migration = make_migration("alpha", "0002")
    assert migration_stage(migration, config()) == ResolvedStage(
        None, Origin.NO_OPERATIONS
    )


# Plans


def test_pre_deploy_plan_postpones_remove_field() -> None:
    initial = make_migration("alpha", "0001", PRE_OPERATION)
    remove = make_migration(
        "alpha", "0002", POST_OPERATION, dependencies=[("alpha", "0001")]
    )
    other = make_migration("beta", "0001", PRE_OPERATION)
    plan = [(initial, False), (remove, False), (other, False)]
    kept = pre_deploy_plan(plan, make_graph(initial, remove, other), config())
    assert names(kept) == ["alpha.0001", "beta.0001"]


def test_pre_deploy_plan_reverting_postpones_pre_deploy_migrations() -> None:
    initial = make_migration("alpha", "0001", PRE_OPERATION)
    remove = make_migration(
        "alpha", "0002", POST_OPERATION, dependencies=[("alpha", "0001")]
    )
    graph = make_graph(initial, remove)
    # Reverting a removal restores the column: old code may need it first.
    assert names(pre_deploy_plan([(remove, True)], graph, config())) == ["alpha.0002"]
    # Reverting an addition waits until no code uses it.
    assert pre_deploy_plan([(initial, True)], graph, config()) == []


def test_pre_deploy_plan_reverting_checks_dependents_not_dependencies() -> None:
    add = make_migration("alpha", "0001", PRE_OPERATION)
    remove = make_migration(
        "alpha", "0002", POST_OPERATION, dependencies=[("alpha", "0001")]
    )
    graph = make_graph(add, remove)
    # Reverting 0002 runs pre-deploy, reverting 0001 post-deploy: fine.
    kept = pre_deploy_plan([(remove, True), (add, True)], graph, config())
    assert names(kept) == ["alpha.0002"]
    # Reverting a post-deploy 0001 requires reverting the pre-deploy 0002 first.
    first = make_migration("alpha", "0001", POST_OPERATION)
    second = make_migration(
        "alpha", "0002", PRE_OPERATION, dependencies=[("alpha", "0001")]
    )
    graph = make_graph(first, second)
    with pytest.raises(
        AmbiguousPlan, match=r"reverting alpha\.0001.*reverting alpha\.0002"
    ):
        pre_deploy_plan([(second, True), (first, True)], graph, config())


def test_pre_deploy_plan_rejects_pre_deploy_migration_depending_on_postponed_one() -> (
    None
):
    remove = make_migration("alpha", "0002", POST_OPERATION)
    dependent = make_migration(
        "beta",
        "0002",
        PRE_OPERATION,
        stage=Stage.PRE_DEPLOY,
        dependencies=[("alpha", "0002")],
    )
    graph = make_graph(remove, dependent)
    with pytest.raises(AmbiguousPlan) as raised:
        pre_deploy_plan([(remove, False), (dependent, False)], graph, config())
    assert str(raised.value) == (
        "Plan contains a non-contiguous sequence of pre-deployment migrations: "
        "applying beta.0002 runs pre-deploy (defined by its Migration.stage) but "
        "it depends on applying alpha.0002, which runs post-deploy (inferred from "
        "its operations). alpha.0002 is not applied: either the post-deploy "
        "`migrate` of an earlier release that brought it never ran on this "
        "database, or it is new in this release. If it came with an earlier "
        "release, catch up one release at a time: once the code of that release "
        "runs everywhere, run `python manage.py migrate alpha 0002` (its "
        "post-deploy step), then `python manage.py migrate --pre-deploy` again. If "
        "both are new, they can't be deployed in one release: deploy alpha.0002 "
        "with a release of its own first, or, if the new code can do without "
        "beta.0002 until the deploy ends, set `stage = syzygy.Stage.POST_DEPLOY` "
        "on the Migration class of beta.0002."
    )


@pytest.mark.parametrize("remove_stage", [None, Stage.POST_DEPLOY])
def test_ambiguous_plan_never_advises_running_a_post_deploy_migration_earlier(
    remove_stage: Stage | None,
) -> None:
    """Marking the pending post-deploy migration pre-deploy would drop what the
    running code uses: the advice is to catch up, or to postpone the other."""
    remove = make_migration("alpha", "0002", POST_OPERATION, stage=remove_stage)
    dependent = make_migration(
        "beta", "0002", PRE_OPERATION, dependencies=[("alpha", "0002")]
    )
    graph = make_graph(remove, dependent)
    for stages in (config(), config(third_party_apps=frozenset({"alpha", "beta"}))):
        with pytest.raises(AmbiguousPlan) as raised:
            pre_deploy_plan([(remove, False), (dependent, False)], graph, stages)
        message = str(raised.value)
        assert "`python manage.py migrate alpha 0002`" in message
        assert "PRE_DEPLOY" not in message
        assert "Migration class of alpha.0002" not in message
        assert "['alpha.0002']" not in message


def test_ambiguous_plan_suggests_override_for_third_party_migrations() -> None:
    remove = make_migration("alpha", "0002", POST_OPERATION)
    dependent = make_migration(
        "beta", "0002", PRE_OPERATION, dependencies=[("alpha", "0002")]
    )
    graph = make_graph(remove, dependent)
    with pytest.raises(AmbiguousPlan) as raised:
        pre_deploy_plan(
            [(remove, False), (dependent, False)],
            graph,
            config(third_party_apps=frozenset({"beta"})),
        )
    assert str(raised.value).endswith(
        "set MIGRATION_STAGES_OVERRIDE['beta.0002'] to syzygy.Stage.POST_DEPLOY."
    )


def test_ambiguous_revert_suggests_stages_or_says_both_are_explicit() -> None:
    create = make_migration("alpha", "0002", PRE_OPERATION, stage=Stage.POST_DEPLOY)
    dependent = make_migration(
        "beta", "0002", PRE_OPERATION, dependencies=[("alpha", "0002")]
    )
    graph = make_graph(create, dependent)
    plan = [(dependent, True), (create, True)]
    with pytest.raises(AmbiguousPlan) as raised:
        pre_deploy_plan(plan, graph, config())
    message = str(raised.value)
    assert "reverting alpha.0002 runs pre-deploy" in message
    assert message.endswith(
        "To resolve it, define an explicit `stage = syzygy.Stage.<STAGE>` on the "
        "Migration class of beta.0002."
    )
    with pytest.raises(AmbiguousPlan, match="Both stages are set explicitly"):
        pre_deploy_plan(plan, graph, config(override={"beta.0002": Stage.PRE_DEPLOY}))
    with pytest.raises(AmbiguousPlan) as raised:
        pre_deploy_plan(plan, graph, config(third_party_apps=frozenset({"beta"})))
    assert "set MIGRATION_STAGES_OVERRIDE['beta.0002'] to a syzygy.Stage" in str(
        raised.value
    )


def test_migration_without_operations_follows_a_postponed_dependency() -> None:
    remove = make_migration("alpha", "0002", POST_OPERATION)
    merge = make_migration("alpha", "0003", dependencies=[("alpha", "0002")])
    independent = make_migration("beta", "0001")
    graph = make_graph(remove, merge, independent)
    plan = [(remove, False), (merge, False), (independent, False)]
    assert names(pre_deploy_plan(plan, graph, config())) == ["beta.0001"]
    steps = plan_stages(plan, graph, config())
    assert steps[1].stage is Stage.POST_DEPLOY
    assert steps[1].cause.migration is remove


def test_ambiguous_plan_through_a_migration_without_operations_names_the_cause() -> (
    None
):
    remove = make_migration("alpha", "0002", POST_OPERATION)
    merge = make_migration("alpha", "0003", dependencies=[("alpha", "0002")])
    dependent = make_migration(
        "beta", "0001", PRE_OPERATION, dependencies=[("alpha", "0003")]
    )
    graph = make_graph(remove, merge, dependent)
    with pytest.raises(AmbiguousPlan) as raised:
        pre_deploy_plan(
            [(remove, False), (merge, False), (dependent, False)], graph, config()
        )
    assert (
        "depends on applying alpha.0003, which has no operations and follows "
        "applying alpha.0002, which runs post-deploy"
    ) in str(raised.value)


def test_pre_deploy_plan_raises_ambiguous_stage() -> None:
    mixed = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    with pytest.raises(AmbiguousStage):
        pre_deploy_plan([(mixed, False)], make_graph(mixed), config())


def test_plan_stages_report_ambiguous_stages() -> None:
    mixed = make_migration("alpha", "0002", PRE_OPERATION, POST_OPERATION)
    (step,) = plan_stages([(mixed, False)], make_graph(mixed), config())
    assert step == PlannedStep(mixed, False, None, Origin.AMBIGUOUS)


# Property: random migration graphs

KINDS = ("pre", "post", "empty", "defined-pre", "defined-post")


@st.composite
def random_plans(
    draw: st.DrawFn,
) -> tuple[
    MigrationGraph, list[tuple[migrations.Migration, bool]], dict[tuple[str, str], str]
]:
    size = draw(st.integers(min_value=1, max_value=14))
    kinds: dict[tuple[str, str], str] = {}
    nodes: list[migrations.Migration] = []
    for index in range(size):
        app_label = draw(st.sampled_from(["alpha", "beta", "gamma"]))
        key = (app_label, f"{index:04d}")
        parents = (
            draw(
                st.sets(
                    st.sampled_from([(m.app_label, m.name) for m in nodes]), max_size=3
                )
            )
            if nodes
            else set()
        )
        kind = draw(st.sampled_from(KINDS))
        kinds[key] = kind
        operations = {"pre": [PRE_OPERATION], "post": [POST_OPERATION]}.get(kind, [])
        stage = {
            "defined-pre": Stage.PRE_DEPLOY,
            "defined-post": Stage.POST_DEPLOY,
        }.get(kind)
        nodes.append(
            make_migration(*key, *operations, stage=stage, dependencies=sorted(parents))
        )
    graph = make_graph(*nodes)
    backwards = draw(st.booleans())
    if backwards:
        # Revert everything: children first, in reverse topological order.
        plan = [(migration, True) for migration in reversed(nodes)]
    else:
        # Some prefix closed under dependencies is applied already.
        applied = set()
        for migration in nodes:
            parents_applied = all(
                parent in applied for parent in migration.dependencies
            )
            if parents_applied and draw(st.booleans()):
                applied.add((migration.app_label, migration.name))
        plan = []
        seen = set(applied)
        for leaf in graph.leaf_nodes():
            for key in graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    plan.append((graph.nodes[key], False))
    return graph, plan, kinds


def own_stage(kind: str, backwards: bool) -> Stage | None:
    stage = {
        "pre": Stage.PRE_DEPLOY,
        "defined-pre": Stage.PRE_DEPLOY,
        "post": Stage.POST_DEPLOY,
        "defined-post": Stage.POST_DEPLOY,
    }.get(kind)
    if stage is None or not backwards:
        return stage
    return Stage.PRE_DEPLOY if stage is Stage.POST_DEPLOY else Stage.POST_DEPLOY


@settings(max_examples=300, deadline=None)
@given(random_plans())
def test_pre_deploy_plan_properties_over_random_graphs(
    case: tuple[
        MigrationGraph,
        list[tuple[migrations.Migration, bool]],
        dict[tuple[str, str], str],
    ],
) -> None:
    graph, plan, kinds = case
    keys = [(m.app_label, m.name) for m, _ in plan]
    in_plan = set(keys)
    backwards = {key: b for key, (_, b) in zip(keys, plan, strict=True)}

    def requirements(key: tuple[str, str]) -> set[tuple[str, str]]:
        node = graph.node_map[key]
        related = node.children if backwards[key] else node.parents
        return {n.key for n in related} & in_plan

    # Oracle: a step is postponed if its own stage is post-deploy, or if it
    # has no stage and something it requires is postponed.
    postponed_memo: dict[tuple[str, str], bool] = {}

    def postponed(key: tuple[str, str]) -> bool:
        if key not in postponed_memo:
            stage = own_stage(kinds[key], backwards[key])
            if stage is None:
                postponed_memo[key] = any(postponed(r) for r in requirements(key))
            else:
                postponed_memo[key] = stage is Stage.POST_DEPLOY
        return postponed_memo[key]

    ambiguous = any(
        own_stage(kinds[key], backwards[key]) is Stage.PRE_DEPLOY
        and any(postponed(r) for r in requirements(key))
        for key in keys
    )
    event("ambiguous" if ambiguous else "split")
    if ambiguous:
        with pytest.raises(AmbiguousPlan):
            pre_deploy_plan(plan, graph, config())
        return
    kept = pre_deploy_plan(plan, graph, config())
    kept_keys = [(m.app_label, m.name) for m, _ in kept]
    # An order-preserving subsequence of the plan...
    positions = [keys.index(key) for key in kept_keys]
    assert positions == sorted(positions)
    # ...made of exactly the steps that aren't postponed...
    assert kept_keys == [key for key in keys if not postponed(key)]
    # ...none of which requires a postponed step.
    kept_set = set(kept_keys)
    for key in kept_keys:
        assert requirements(key) <= kept_set


def test_pre_deploy_plan_reads_the_stage_settings() -> None:
    remove = make_migration("alpha", "0002", POST_OPERATION)
    graph = make_graph(remove)
    assert pre_deploy_plan([(remove, False)], graph) == []
    with override_settings(MIGRATION_STAGES_OVERRIDE={"alpha.0002": "PRE_DEPLOY"}):
        assert names(pre_deploy_plan([(remove, False)], graph)) == ["alpha.0002"]


# The baseline


def test_mixed_migrations_up_to_the_baseline_have_no_stage_in_a_plan() -> None:
    """Through a merge of two branches, and in another app not at all."""
    initial = make_migration("alpha", "0001", PRE_OPERATION)
    left = make_migration(
        "alpha",
        "0002_left",
        PRE_OPERATION,
        POST_OPERATION,
        dependencies=[("alpha", "0001")],
    )
    right = make_migration(
        "alpha",
        "0002_right",
        PRE_OPERATION,
        POST_OPERATION,
        dependencies=[("alpha", "0001")],
    )
    merge = make_migration(
        "alpha",
        "0003_merge",
        dependencies=[("alpha", "0002_left"), ("alpha", "0002_right")],
    )
    later = make_migration(
        "alpha",
        "0004",
        PRE_OPERATION,
        POST_OPERATION,
        dependencies=[("alpha", "0003_merge")],
    )
    other = make_migration("beta", "0001", PRE_OPERATION, POST_OPERATION)
    graph = make_graph(initial, left, right, merge, later, other)
    plan = [(each, False) for each in (initial, left, right, merge, later, other)]
    steps = plan_stages(plan, graph, config(baseline={"alpha": "0003_merge"}))
    assert [(step.stage, step.origin) for step in steps] == [
        (Stage.PRE_DEPLOY, Origin.INFERRED),
        (None, Origin.BASELINE),
        (None, Origin.BASELINE),
        (Stage.PRE_DEPLOY, Origin.NO_OPERATIONS),
        (None, Origin.AMBIGUOUS),
        (None, Origin.AMBIGUOUS),
    ]
    with pytest.raises(AmbiguousStage, match="behind the baseline"):
        pre_deploy_plan(plan[:2], graph, config(baseline={"alpha": "0003_merge"}))
    # A baseline that names no migration makes no history.
    steps = plan_stages(plan[:2], graph, config(baseline={"alpha": "0009"}))
    assert steps[1].origin is Origin.AMBIGUOUS
