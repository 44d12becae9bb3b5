"""What an app does on every model, played by historical models.

A side (the code deployed now, "old", or the release, "new") is the set of
historical models of one project state. On each model it creates a row,
reads every field, filters, updates, bulk creates, deletes and follows
relations, each operation in a transaction of its own; a database error is
a ``Failure``.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

from django.db import DatabaseError, models, transaction
from django.db.migrations.state import ProjectState
from django.db.models.deletion import ProtectedError, RestrictedError

from .scratch import ScratchDatabase
from .values import Unsupported, ValueGenerator, is_generated

__all__ = (
    "OPERATIONS",
    "Failure",
    "Side",
    "Writes",
    "seed",
    "traffic_models",
)

# Every operation a side runs on a model, in the order it runs them.
OPERATIONS = (
    "create",
    "read",
    "filter",
    "update",
    "bulk_create",
    "delete",
    "relations",
)
# How many rows a read, or a read following relations, fetches.
READ_ROWS = 20
# How many rows bulk_create inserts at once.
BULK_ROWS = 3
SEED_BATCH = 500
# A delete picks its row among this many of the oldest.
DELETE_AMONG = 1000

Model: TypeAlias = type[models.Model]
Field: TypeAlias = "models.Field[Any, Any]"


@dataclass(frozen=True)
class Failure:
    """An operation of a side on a model that failed, and why."""

    side: str
    model: str
    operation: str
    error: str
    message: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Return what identifies the failing query across steps."""
        return (self.side, self.model, self.operation)


def traffic_models(state: ProjectState) -> list[Model]:
    """Return the models of ``state`` that have a table of their own,
    every model after the models its required foreign keys point to."""
    candidates = {}
    for app_label, model_name in sorted(state.models):
        model = state.apps.get_model(app_label, model_name)
        meta = model._meta
        if meta.managed and not (meta.proxy or meta.swapped or meta.auto_created):
            candidates[meta.label_lower] = model
    ordered: dict[str, Model] = {}
    visiting: set[str] = set()

    def visit(label: str) -> None:
        if label in ordered or label in visiting:
            # A cycle of required foreign keys: seeding says so.
            return
        visiting.add(label)
        for field in candidates[label]._meta.concrete_fields:
            target = _required_target(field)
            if target is not None and target in candidates:
                visit(target)
        visiting.discard(label)
        ordered[label] = candidates[label]

    for label in candidates:
        visit(label)
    return list(ordered.values())


def _required_target(field: Field) -> str | None:
    if field.is_relation and not field.null and field.remote_field is not None:
        return str(field.related_model._meta.label_lower)  # type: ignore[union-attr]
    return None


def writable_fields(model: Model) -> list[Field]:
    """Return the columns of ``model`` an INSERT of the app writes."""
    return [
        field
        for field in model._meta.concrete_fields
        if not (isinstance(field, models.AutoField) or is_generated(field))
    ]


def field_values(
    model: Model,
    generator: ValueGenerator,
    reference: Callable[[Field], Any],
) -> dict[str, Any]:
    """Return a value for every column of a new row of ``model``, by
    attribute name; ``reference`` gives the value of a foreign key."""
    values = {}
    for field in writable_fields(model):
        if field.is_relation:
            values[field.attname] = reference(field)
        else:
            values[field.attname] = generator.value(field)
    return values


def seed(
    models_to_seed: list[Model], database: str, rows: int, generator: ValueGenerator
) -> list[str]:
    """Insert ``rows`` rows in each model; return why some models have none."""
    seeded: dict[str, list[Any]] = {}
    notes = []

    def reference(field: Field) -> Any:
        targets = seeded.get(field.related_model._meta.label_lower)  # type: ignore[union-attr]
        if not targets:
            if field.null:
                return None
            raise Unsupported(
                f"{field.model._meta.label}.{field.name} requires a "
                f"{field.related_model._meta.label} row, which has none"  # type: ignore[union-attr]
            )
        return targets[next(counter) % len(targets)]

    for model in models_to_seed:
        manager = model._default_manager.db_manager(database)
        counter = itertools.count()
        # A row per target row at most, through a one-to-one relation.
        count = min(
            [
                rows,
                *(
                    len(seeded[label])
                    for label in _unique_targets(model)
                    if seeded.get(label)
                ),
            ]
        )
        instances = []
        try:
            for _ in range(count):
                instances.append(model(**field_values(model, generator, reference)))
        except Unsupported as error:
            notes.append(f"{model._meta.label} is not seeded: {error}.")
        try:
            with transaction.atomic(using=database):
                if model._meta.parents:
                    # Django can't bulk create a child of multi-table
                    # inheritance.
                    for instance in instances:
                        instance.save(using=database)
                else:
                    manager.bulk_create(instances, batch_size=SEED_BATCH)
        except Exception as error:
            notes.append(f"{model._meta.label} is not seeded: {first_line(error)}")
        seeded[model._meta.label_lower] = list(
            manager.values_list("pk", flat=True).order_by("pk")
        )
    return notes


def _unique_targets(model: Model) -> list[str]:
    """Return the models ``model`` refers to through unique relations."""
    return [
        field.related_model._meta.label_lower  # type: ignore[union-attr]
        for field in writable_fields(model)
        if field.is_relation and field.unique
    ]


class Side:
    """The models of one side, and what it does on them."""

    def __init__(
        self,
        name: str,
        state: ProjectState,
        scratch: ScratchDatabase,
        generator: ValueGenerator,
    ) -> None:
        self.name = name
        self.models = traffic_models(state)
        self.scratch = scratch
        self.database = scratch.alias
        self.generator = generator
        self.unsupported: dict[str, str] = {}

    def round(self) -> list[Failure]:
        """Run every operation on every model; return the failures."""
        failures: list[Failure] = []
        for model in self.models:
            failures.extend(self._operations(model))
        return failures

    def write(self, model: Model) -> Failure | None:
        """Insert a row of ``model``; return the failure, if it failed."""
        try:
            return self._run(model, "create", lambda: self._create(model))
        except Unsupported:
            return None

    def _operations(self, model: Model) -> Iterator[Failure]:
        created: list[models.Model] = []
        try:
            steps = self._steps(model, created)
            for operation in OPERATIONS:
                if operation not in steps:
                    continue
                failure = self._run(model, operation, steps[operation])
                if failure is not None:
                    yield failure
        except Unsupported as error:
            self.unsupported[model._meta.label] = str(error)

    def _run(
        self, model: Model, operation: str, step: Callable[[], Any]
    ) -> Failure | None:
        try:
            with transaction.atomic(using=self.database):
                step()
        # The app's own refusal to delete, not a broken query.
        except (ProtectedError, RestrictedError):
            return None
        except DatabaseError as error:
            return Failure(
                self.name,
                model._meta.label,
                operation,
                error.__class__.__name__,
                first_line(error),
            )
        except Unsupported:
            raise
        except Exception as error:
            # What Django refuses before any query (values, lookups the
            # historical models lack): not the database's doing.
            self.unsupported[model._meta.label] = (
                f"{operation}: {error.__class__.__name__}: {first_line(error)}"
            )
        return None

    def _steps(
        self, model: Model, created: list[models.Model]
    ) -> dict[str, Callable[[], Any]]:
        rows = model._default_manager.db_manager(self.database)
        values: dict[str, Any] = {}

        def create() -> None:
            values.update(self._values(model))
            instance = rows.create(**values)
            for field in model._meta.many_to_many:
                if field.remote_field.through._meta.auto_created:  # type: ignore[union-attr]
                    getattr(instance, field.name).add(
                        self._reference(field, "pk", (model,))
                    )
            created.append(instance)

        def read() -> None:
            list(rows.order_by("-pk")[:READ_ROWS])

        def filter() -> None:
            field = _filterable(model)
            if field is None:
                list(rows.filter(pk__in=[instance.pk for instance in created]))
            else:
                # None, if creating failed: a filter on IS NULL.
                value = values.get(field.attname)
                list(rows.filter(**{field.attname: value})[:READ_ROWS])

        def update() -> None:
            instance = created[0] if created else rows.order_by("-pk").first()
            if instance is None:
                return
            for field in writable_fields(model):
                if not (field.is_relation or field.primary_key):
                    setattr(instance, field.attname, self.generator.value(field))
            instance.save(using=self.database)

        def bulk_create() -> None:
            rows.bulk_create([model(**self._values(model)) for _ in range(BULK_ROWS)])

        def delete() -> None:
            for instance in created:
                instance.delete(using=self.database)
            # Also a row the app didn't just make, which others may refer
            # to: any of them, as users pick what they delete.
            existing = rows.count()
            if existing:
                offset = self.generator.random.randrange(min(existing, DELETE_AMONG))
                for instance in rows.order_by("pk")[offset : offset + 1]:
                    instance.delete(using=self.database)

        def relations() -> None:
            forward = [
                field.name for field in model._meta.concrete_fields if field.is_relation
            ]
            backward = [
                relation.get_accessor_name()
                for relation in model._meta.related_objects
                if not relation.hidden
            ] + [field.name for field in model._meta.many_to_many]
            queryset = rows.order_by("-pk")
            if forward:
                queryset = queryset.select_related(*forward)
            if backward:
                queryset = queryset.prefetch_related(*backward)
            list(queryset[:READ_ROWS])

        steps = {
            "create": create,
            "read": read,
            "filter": filter,
            "update": update,
            "bulk_create": bulk_create,
            "delete": delete,
            "relations": relations,
        }
        if model._meta.parents:
            # Django can't bulk create a child of multi-table inheritance.
            del steps["bulk_create"]
        return steps

    def _create(self, model: Model, chain: tuple[Model, ...] = ()) -> models.Model:
        rows = model._default_manager.db_manager(self.database)
        instance: models.Model = rows.create(**self._values(model, chain))
        return instance

    def _values(self, model: Model, chain: tuple[Model, ...] = ()) -> dict[str, Any]:
        return field_values(
            model,
            self.generator,
            lambda field: self._reference(
                field,
                field.target_field.attname,  # type: ignore[attr-defined]
                (*chain, model),
            ),
        )

    def _reference(self, field: Field, attname: str, chain: tuple[Model, ...]) -> Any:
        """Return the value of a relation to a row of its model: one of the
        latest rows, or a new row if the relation is one to one or there is
        none (``chain`` holds the models whose rows wait for it)."""
        target: Model = field.related_model  # type: ignore[assignment]
        if not field.unique:
            latest = list(
                target._default_manager.db_manager(self.database)
                .order_by("-pk")
                .values_list(attname, flat=True)[:READ_ROWS]
            )
            if latest:
                return self.generator.random.choice(latest)
        if field.null:
            return None
        if target in chain:
            raise Unsupported(
                f"its rows and the {target._meta.label} rows it requires "
                "require each other"
            )
        return getattr(self._create(target, chain), attname)


def first_line(error: BaseException) -> str:
    """Return the first line of ``error``'s message: the next ones repeat the
    values of the row."""
    return next(iter(str(error).strip().splitlines()), "")


def _filterable(model: Model) -> Field | None:
    """Return the field an app would filter ``model`` on: its first column
    that compares by equality on every database, and is not a relation."""
    for field in writable_fields(model):
        if not (
            field.is_relation
            or isinstance(field, (models.JSONField, models.BinaryField))
        ):
            return field
    return None


class Writes(threading.Thread):
    """Insert rows of a side's models in a loop, on a connection of its own,
    timing each insert, until stopped."""

    def __init__(self, side: Side) -> None:
        super().__init__(name=f"rehearsal-writes-{side.name}", daemon=True)
        self.side = side
        self.timings: list[tuple[float, float]] = []
        self.failures: list[tuple[float, Failure]] = []
        self._stop_event = threading.Event()
        # Held during each insert, and while the rounds of traffic run: the
        # rehearsal's own queries must not race (an insert referring to a
        # row a round deletes), only the migrations may interfere.
        self._turn = threading.Lock()

    def run(self) -> None:
        self.side.scratch.connect()
        try:
            # Once told to stop, a last turn over every model: each is then
            # written after the last migration, whatever the timing.
            last_turn = False
            while self.side.models and not last_turn:
                last_turn = self._stop_event.is_set()
                for model in self.side.models:
                    with self._turn:
                        start = time.monotonic()
                        failure = self.side.write(model)
                        end = time.monotonic()
                    self.timings.append((start, end))
                    if failure is not None:
                        self.failures.append((end, failure))
                    # Leave the migration room to take its locks.
                    time.sleep(0.002)
        finally:
            self.side.scratch.disconnect()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the inserts, once the one under way ends, in this block."""
        with self._turn:
            yield

    def stop(self) -> None:
        """Stop the loop after a last turn over every model, and wait for it."""
        self._stop_event.set()
        self.join()

    def longest(self, start: float, end: float) -> float:
        """Return the longest insert that overlapped ``start`` to ``end``."""
        return max(
            (
                finished - started
                for started, finished in self.timings
                if started < end and finished > start
            ),
            default=0.0,
        )


def shared_counter() -> itertools.count[int]:
    """Return the counter that keeps unique values unique across generators."""
    return itertools.count(1)


def generator_for(seed_value: int, counter: itertools.count[int]) -> ValueGenerator:
    """Return a generator of its own for a thread, from the rehearsal's seed."""
    return ValueGenerator(random.Random(seed_value).getrandbits(32), counter)
