"""The rules of what a field's column carries, shared by makemigrations,
the lock-safe operations and the lint."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.migrations.state import ModelState, ProjectState
from django.utils import timezone

from syzygy.fields import (
    FOREIGN_KEY,
    INDEX,
    NOT_NULL,
    UNIQUE,
    added_constraints,
    column_field,
    describe_column_type,
    has_volatile_default,
    rewrites_table,
)


@pytest.mark.parametrize(
    ("old_field", "new_field", "added"),
    [
        (None, models.IntegerField(null=True), []),
        (None, models.IntegerField(db_index=True), [NOT_NULL, INDEX]),
        (models.IntegerField(null=True), models.IntegerField(), [NOT_NULL]),
        (models.IntegerField(), models.IntegerField(null=True), []),
        # A unique field has the index of its constraint.
        (
            models.IntegerField(),
            models.IntegerField(db_index=True, unique=True),
            [UNIQUE],
        ),
        (models.IntegerField(unique=True), models.IntegerField(db_index=True), [INDEX]),
        (
            models.IntegerField(),
            models.ForeignKey("alpha.Publisher", models.CASCADE),
            [INDEX, FOREIGN_KEY],
        ),
        (
            models.ForeignKey("alpha.Publisher", models.CASCADE, db_constraint=False),
            models.OneToOneField("alpha.Publisher", models.CASCADE),
            [UNIQUE, FOREIGN_KEY],
        ),
        (
            models.ForeignKey("alpha.Publisher", models.CASCADE),
            models.ForeignKey("alpha.Publisher", models.CASCADE, db_constraint=False),
            [],
        ),
    ],
)
def test_added_constraints_are_what_the_new_column_has_and_the_old_lacks(
    old_field: models.Field[Any, Any] | None,
    new_field: models.Field[Any, Any],
    added: list[str],
) -> None:
    assert added_constraints(old_field, new_field) == added


@pytest.mark.parametrize(
    ("old_field", "new_field"),
    [
        (models.CharField(max_length=50), models.CharField(max_length=100)),
        (models.CharField(max_length=50), models.CharField(max_length=None)),
        (models.CharField(max_length=50), models.TextField()),
        (models.EmailField(), models.CharField(max_length=254, null=True)),
        (models.SlugField(), models.CharField(max_length=50)),
        (models.FileField(), models.CharField(max_length=100)),
        (models.TextField(max_length=10), models.TextField(max_length=20)),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=7, decimal_places=2),
        ),
        (models.IntegerField(), models.IntegerField(null=True, default=1)),
        # The same column, with or without a check constraint.
        (models.IntegerField(), models.PositiveIntegerField()),
        (models.PositiveSmallIntegerField(), models.SmallIntegerField()),
        (models.BigIntegerField(), models.PositiveBigIntegerField()),
        (
            models.ForeignKey("alpha.author", models.CASCADE),
            models.OneToOneField("alpha.author", models.CASCADE),
        ),
        (
            ArrayField(models.CharField(max_length=10)),
            ArrayField(models.CharField(max_length=10), size=3),
        ),
    ],
)
def test_metadata_only_changes_keep_the_table(
    old_field: models.Field[Any, Any], new_field: models.Field[Any, Any]
) -> None:
    assert not rewrites_table(old_field, new_field)


@pytest.mark.parametrize(
    ("old_field", "new_field"),
    [
        (models.IntegerField(), models.BigIntegerField()),
        (models.PositiveSmallIntegerField(), models.PositiveIntegerField()),
        (models.AutoField(primary_key=True), models.BigAutoField(primary_key=True)),
        (models.IntegerField(), models.CharField(max_length=10)),
        (models.CharField(max_length=100), models.CharField(max_length=50)),
        (models.CharField(max_length=None), models.CharField(max_length=50)),
        (models.TextField(), models.CharField(max_length=100)),
        (
            models.CharField(max_length=100),
            models.CharField(max_length=100, db_collation="C"),
        ),
        (models.TextField(), models.TextField(db_collation="C")),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=4, decimal_places=2),
        ),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=7, decimal_places=3),
        ),
        (ArrayField(models.IntegerField()), ArrayField(models.BigIntegerField())),
    ],
)
def test_other_changes_of_type_rewrite_the_table(
    old_field: models.Field[Any, Any], new_field: models.Field[Any, Any]
) -> None:
    assert rewrites_table(old_field, new_field)


@pytest.mark.parametrize(
    ("field", "description"),
    [
        (models.IntegerField(), "IntegerField"),
        (models.EmailField(), "CharField(max_length=254)"),
        (
            models.TextField(max_length=10, db_collation="C"),
            "TextField(db_collation='C')",
        ),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            "DecimalField(max_digits=5, decimal_places=2)",
        ),
    ],
)
def test_column_types_are_described_with_the_parameters_that_count(
    field: models.Field[Any, Any], description: str
) -> None:
    assert describe_column_type(field) == description


def test_column_field_resolves_foreign_keys_to_the_type_they_point_to() -> None:
    def model(name: str, *fields: tuple[str, object]) -> ModelState:
        return ModelState("alpha", name, list(fields))  # type: ignore[arg-type]

    state = ProjectState()
    state.add_model(
        model(
            "Publisher",
            ("id", models.BigAutoField(primary_key=True)),
            ("code", models.CharField(max_length=5)),
        )
    )
    state.add_model(
        model(
            "Imprint",
            (
                "publisher",
                models.OneToOneField(
                    "alpha.Publisher", models.CASCADE, primary_key=True
                ),
            ),
        )
    )

    def resolved(field: models.Field) -> str:  # type: ignore[type-arg]
        return column_field(state, field).get_internal_type()

    cascade = models.CASCADE
    assert resolved(models.ForeignKey("alpha.Publisher", cascade)) == "BigIntegerField"
    assert (
        resolved(models.ForeignKey("alpha.Publisher", cascade, to_field="code"))
        == "CharField"
    )
    # Through a primary key that is itself a reference.
    assert resolved(models.ForeignKey("alpha.Imprint", cascade)) == "BigIntegerField"
    # What the state doesn't resolve stays as it is.
    assert resolved(models.ForeignKey("alpha.Missing", cascade)) == "ForeignKey"
    assert resolved(models.ForeignKey("self", cascade)) == "ForeignKey"
    assert (
        resolved(models.ForeignKey("alpha.Publisher", cascade, to_field="gone"))
        == "ForeignKey"
    )
    assert resolved(models.IntegerField()) == "IntegerField"


def no_preferences() -> dict[str, object]:
    return {"newsletter": False, "languages": ["en", "fr"], "limits": (1, 2)}


def answer() -> int:
    return 42


def fresh_token() -> uuid.UUID:
    return uuid.uuid4()


def counted(counter: list[int] = []) -> int:  # noqa: B006
    counter.append(1)
    return len(counter)


@pytest.mark.parametrize(
    ("default", "volatile"),
    [
        (dict, False),
        (list, False),
        (str, False),
        (no_preferences, False),
        (answer, False),
        ("plain", False),
        (uuid.uuid4, True),
        (timezone.now, True),
        (fresh_token, True),
        (counted, True),
    ],
)
def test_defaults_that_return_equal_values_are_not_volatile(
    default: object, volatile: bool
) -> None:
    assert has_volatile_default(models.JSONField(default=default)) is volatile


def test_a_field_without_default_has_no_volatile_default() -> None:
    assert has_volatile_default(models.IntegerField()) is False
