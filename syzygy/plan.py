"""Stages of operations, migrations and plans.

Pure functions over Django's migration objects: nothing here prints, touches
a database or knows about commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from django.db.migrations import DeleteModel, Migration, RemoveField
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations.base import Operation

from . import conf
from .constants import Stage
from .exceptions import AmbiguousPlan, AmbiguousStage

__all__ = (
    "Origin",
    "Plan",
    "PlannedStep",
    "ResolvedStage",
    "history",
    "inverted",
    "migration_stage",
    "operation_stage",
    "partition_operations",
    "plan_stages",
    "pre_deploy_plan",
    "pre_deploy_steps",
)

Plan: TypeAlias = list[tuple[Migration, bool]]
Key: TypeAlias = tuple[str, str]


class Origin(Enum):
    """Where the stage of a migration comes from."""

    OVERRIDE = "override"
    DEFINED = "defined"
    INFERRED = "inferred"
    FALLBACK = "fallback"
    THIRD_PARTY_FALLBACK = "third-party fallback"
    NO_OPERATIONS = "no operations"
    BASELINE = "baseline"
    AMBIGUOUS = "ambiguous"

    @property
    def explanation(self) -> str:
        """Return how a stage of this origin came about, for messages."""
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    Origin.OVERRIDE: "set by MIGRATION_STAGES_OVERRIDE",
    Origin.DEFINED: "defined by its Migration.stage",
    Origin.INFERRED: "inferred from its operations",
    Origin.FALLBACK: "set by MIGRATION_STAGES_FALLBACK",
    Origin.THIRD_PARTY_FALLBACK: "set by MIGRATION_THIRD_PARTY_STAGES_FALLBACK",
    Origin.NO_OPERATIONS: "taken from the plan, as it has no operations",
    Origin.BASELINE: (
        "none: it mixes stages, and SYZYGY_STAGE_BASELINE makes it history"
    ),
    Origin.AMBIGUOUS: "ambiguous",
}


@dataclass(frozen=True)
class ResolvedStage:
    """The stage of a migration and where it comes from.

    ``stage`` is ``None`` for a migration without operations: it has no stage
    of its own and follows the plan.
    """

    stage: Stage | None
    origin: Origin


@dataclass(frozen=True)
class PlannedStep:
    """A step of a plan with the stage at which it runs.

    ``stage`` accounts for the direction (reverting inverts it) and, for a
    migration without operations, for the steps it depends on; it is ``None``
    only when the migration's stage is ambiguous (``origin`` says whether
    the baseline makes it history). ``follows`` names the
    postponed step a migration without operations is postponed with.
    """

    migration: Migration
    backwards: bool
    stage: Stage | None
    origin: Origin
    follows: PlannedStep | None = None

    @property
    def key(self) -> Key:
        return (self.migration.app_label, self.migration.name)

    @property
    def cause(self) -> PlannedStep:
        """Return the step whose own stage decided this one's."""
        return self if self.follows is None else self.follows.cause


def operation_stage(operation: Operation) -> Stage:
    """Return the stage of an operation.

    An explicit ``stage`` attribute wins; otherwise removing a field or a
    model waits for the new code, and everything else goes before it.
    """
    stage = getattr(operation, "stage", None)
    if stage is not None:
        return Stage(stage)
    if isinstance(operation, (RemoveField, DeleteModel)):
        return Stage.POST_DEPLOY
    return Stage.PRE_DEPLOY


def partition_operations(
    operations: Iterable[Operation], app_label: str
) -> tuple[list[Operation], list[Operation]]:
    """Split ``operations`` into the pre-deploy and the post-deploy ones.

    A pre-deploy operation that follows post-deploy ones moves before them if
    it can be moved across each of them (as Django's optimizer decides);
    otherwise raise ``AmbiguousStage``.
    """
    pre_deploy: list[Operation] = []
    post_deploy: list[Operation] = []
    for operation in operations:
        if operation_stage(operation) is Stage.POST_DEPLOY:
            post_deploy.append(operation)
        elif all(
            earlier.reduce(operation, app_label) is True for earlier in post_deploy
        ):
            pre_deploy.append(operation)
        else:
            raise AmbiguousStage(
                f"{operation.describe()} must run after a post-deploy operation "
                f"of app '{app_label}' but is a pre-deploy operation."
            )
    return pre_deploy, post_deploy


def migration_stage(
    migration: Migration, config: conf.StageConfig | None = None
) -> ResolvedStage:
    """Return the stage of a migration; the first rule that applies wins.

    ``MIGRATION_STAGES_OVERRIDE``, the ``Migration.stage`` attribute, the
    common stage of its operations, ``MIGRATION_STAGES_FALLBACK``, then
    ``MIGRATION_THIRD_PARTY_STAGES_FALLBACK`` for third-party apps. Raise
    ``AmbiguousStage`` when none applies.
    """
    if config is None:
        config = conf.stage_config()
    app_label, name = migration.app_label, migration.name
    stage = config.overridden(app_label, name)
    if stage is not None:
        return ResolvedStage(stage, Origin.OVERRIDE)
    defined = getattr(migration, "stage", None)
    if defined is not None:
        return ResolvedStage(Stage(defined), Origin.DEFINED)
    stages = {operation_stage(operation) for operation in migration.operations}
    if not stages:
        return ResolvedStage(None, Origin.NO_OPERATIONS)
    if len(stages) == 1:
        return ResolvedStage(stages.pop(), Origin.INFERRED)
    stage = config.fallen_back(app_label, name)
    if stage is not None:
        return ResolvedStage(stage, Origin.FALLBACK)
    if config.third_party_fallback is not None and app_label in config.third_party_apps:
        return ResolvedStage(config.third_party_fallback, Origin.THIRD_PARTY_FALLBACK)
    raise AmbiguousStage(
        f"Cannot automatically determine stage of {app_label}.{name}: it mixes "
        f"pre-deploy and post-deploy operations."
    )


def history(baseline: str, parents: Callable[[str], Iterable[str]]) -> set[str]:
    """Return the migrations of an app up to its ``baseline`` migration: the
    baseline and, transitively, the migrations of the app it depends on or
    replaces, which ``parents`` returns by name."""
    names: set[str] = set()
    pending = [baseline]
    while pending:
        name = pending.pop()
        if name not in names:
            names.add(name)
            pending.extend(parents(name))
    return names


def _graph_history(graph: MigrationGraph, config: conf.StageConfig) -> set[Key]:
    """Return the migrations of the graph that are history before the baseline
    of their app (a baseline not in the graph makes none)."""
    keys: set[Key] = set()
    for app_label, baseline in config.baseline.items():
        if (app_label, baseline) not in graph.node_map:
            continue

        def parents(name: str, app_label: str = app_label) -> list[str]:
            node = graph.node_map[app_label, name]
            return [key[1] for key in node.parents if key[0] == app_label]

        keys.update((app_label, name) for name in history(baseline, parents))
    return keys


def inverted(stage: Stage) -> Stage:
    """Return the stage at which reverting a migration of ``stage`` runs."""
    return Stage.POST_DEPLOY if stage is Stage.PRE_DEPLOY else Stage.PRE_DEPLOY


def _requirements(graph: MigrationGraph, key: Key, backwards: bool) -> list[Key]:
    """Return the steps that must run before ``key`` in a plan."""
    node = graph.node_map[key]
    # Reverting a migration first reverts the ones that depend on it.
    related = node.children if backwards else node.parents
    return sorted(related_node.key for related_node in related)


def plan_stages(
    plan: Iterable[tuple[Migration, bool]],
    graph: MigrationGraph,
    config: conf.StageConfig | None = None,
) -> list[PlannedStep]:
    """Return each step of ``plan`` with the stage at which it runs.

    A migration without operations runs post-deploy if a step it depends on
    does, pre-deploy otherwise. Ambiguous stages are reported, not raised.
    """
    if config is None:
        config = conf.stage_config()
    steps: dict[Key, PlannedStep] = {}
    baseline_history: set[Key] | None = None
    for migration, backwards in plan:
        key = (migration.app_label, migration.name)
        try:
            resolved = migration_stage(migration, config)
        except AmbiguousStage:
            if baseline_history is None:
                baseline_history = _graph_history(graph, config)
            origin = Origin.BASELINE if key in baseline_history else Origin.AMBIGUOUS
            resolved = ResolvedStage(None, origin)
        if resolved.stage is not None:
            stage = inverted(resolved.stage) if backwards else resolved.stage
            step = PlannedStep(migration, backwards, stage, resolved.origin)
        elif resolved.origin in (Origin.AMBIGUOUS, Origin.BASELINE):
            step = PlannedStep(migration, backwards, None, resolved.origin)
        else:
            follows = _first_postponed(steps, _requirements(graph, key, backwards))
            step = PlannedStep(
                migration,
                backwards,
                Stage.PRE_DEPLOY if follows is None else Stage.POST_DEPLOY,
                resolved.origin,
                follows,
            )
        steps[key] = step
    return list(steps.values())


def _first_postponed(
    steps: dict[Key, PlannedStep], requirements: list[Key]
) -> PlannedStep | None:
    for key in requirements:
        step = steps.get(key)
        if step is not None and step.stage is Stage.POST_DEPLOY:
            return step
    return None


def pre_deploy_steps(
    steps: list[PlannedStep],
    graph: MigrationGraph,
    config: conf.StageConfig | None = None,
) -> list[PlannedStep]:
    """Return the steps to run before the new code is deployed.

    Post-deploy steps are postponed. Raise ``AmbiguousStage`` for a migration
    of unknown stage and ``AmbiguousPlan`` for a pre-deploy step that depends
    on a postponed one.
    """
    if config is None:
        config = conf.stage_config()
    by_key = {step.key: step for step in steps}
    kept = []
    for step in steps:
        if step.origin is Origin.AMBIGUOUS:
            # Raise the message that explains the ambiguity.
            migration_stage(step.migration, config)
        if step.origin is Origin.BASELINE:
            raise AmbiguousStage(_unapplied_history_message(step, config))
        if step.stage is Stage.POST_DEPLOY:
            continue
        postponed = _first_postponed(
            by_key, _requirements(graph, step.key, step.backwards)
        )
        if postponed is not None:
            raise AmbiguousPlan(_ambiguous_plan_message(step, postponed, config))
        kept.append(step)
    return kept


def pre_deploy_plan(
    plan: Iterable[tuple[Migration, bool]],
    graph: MigrationGraph,
    config: conf.StageConfig | None = None,
) -> Plan:
    """Return the part of ``plan`` to run before the new code is deployed.

    See ``pre_deploy_steps`` for the rules and the errors.
    """
    if config is None:
        config = conf.stage_config()
    steps = pre_deploy_steps(plan_stages(plan, graph, config), graph, config)
    return [(step.migration, step.backwards) for step in steps]


def _name(step: PlannedStep) -> str:
    return f"{step.migration.app_label}.{step.migration.name}"


def _describe(step: PlannedStep) -> str:
    action = "reverting" if step.backwards else "applying"
    return f"{action} {_name(step)}"


def _ambiguous_plan_message(
    kept: PlannedStep, postponed: PlannedStep, config: conf.StageConfig
) -> str:
    cause = postponed.cause
    # The first sentence is django-syzygy 1.x's.
    message = (
        "Plan contains a non-contiguous sequence of pre-deployment migrations: "
        f"{_describe(kept)} runs pre-deploy ({kept.origin.explanation}) but it "
        f"depends on {_describe(postponed)}"
    )
    if cause is not postponed:
        message += f", which has no operations and follows {_describe(cause)}"
    message += f", which runs post-deploy ({cause.origin.explanation}). "
    if kept.backwards or cause.backwards:
        return message + _resolution_hint([kept, cause], config)
    return message + _catch_up_hint(kept, cause, config)


def _catch_up_hint(
    kept: PlannedStep, cause: PlannedStep, config: conf.StageConfig
) -> str:
    """Say how to apply a pending post-deploy migration before ``kept``.

    Giving the post-deploy migration another stage is never the advice: it
    would run its destructive operations while the old code uses what they
    drop.
    """
    app_label, name = cause.migration.app_label, cause.migration.name
    if kept.migration.app_label in config.third_party_apps:
        postpone = (
            f"set MIGRATION_STAGES_OVERRIDE[{_name(kept)!r}] to "
            "syzygy.Stage.POST_DEPLOY"
        )
    else:
        postpone = (
            "set `stage = syzygy.Stage.POST_DEPLOY` on the Migration class of "
            f"{_name(kept)}"
        )
    return (
        f"{_name(cause)} is not applied: either the post-deploy `migrate` of an "
        "earlier release that brought it never ran on this database, or it is new "
        "in this release. If it came with an earlier release, catch up one release "
        "at a time: once the code of that release runs everywhere, run "
        f"`python manage.py migrate {app_label} {name}` (its post-deploy step), "
        "then `python manage.py migrate --pre-deploy` again. If both are new, they "
        f"can't be deployed in one release: deploy {_name(cause)} with a release "
        f"of its own first, or, if the new code can do without {_name(kept)} "
        f"until the deploy ends, {postpone}."
    )


def _unapplied_history_message(step: PlannedStep, config: conf.StageConfig) -> str:
    app_label = step.migration.app_label
    baseline = config.baseline[app_label]
    return (
        f"Cannot automatically determine stage of {_name(step)}: it mixes "
        "pre-deploy and post-deploy operations. It needs none as history before "
        f"SYZYGY_STAGE_BASELINE[{app_label!r}] ({baseline}), but {_describe(step)} "
        "is in the plan: this database is behind the baseline. Bring it up to "
        f"the baseline while no code depends on its schema (`python manage.py "
        f"migrate {app_label} {baseline}`), or define an explicit "
        "`stage = syzygy.Stage.<STAGE>` on the Migration class (or set "
        f"MIGRATION_STAGES_OVERRIDE[{_name(step)!r}])."
    )


def _resolution_hint(steps: list[PlannedStep], config: conf.StageConfig) -> str:
    first_party, third_party = [], []
    for step in steps:
        if step.origin in {Origin.DEFINED, Origin.OVERRIDE}:
            continue
        if step.migration.app_label in config.third_party_apps:
            third_party.append(f"MIGRATION_STAGES_OVERRIDE[{_name(step)!r}]")
        else:
            first_party.append(_name(step))
    remedies = []
    if first_party:
        remedies.append(
            "define an explicit `stage = syzygy.Stage.<STAGE>` on the Migration "
            "class of " + " or ".join(first_party)
        )
    if third_party:
        remedies.append("set " + " or ".join(third_party) + " to a syzygy.Stage")
    if not remedies:
        return (
            "Both stages are set explicitly: change one of them, or move the "
            "dependency to a migration of the other stage."
        )
    return "To resolve it, " + ", or ".join(remedies) + "."
