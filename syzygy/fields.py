"""What the column of a model field carries: its name, its type, its index
and its constraints.

The rules here are shared by ``makemigrations`` (what it writes), the
lock-safe operations (what they build) and the lint (what it reports).
"""

from __future__ import annotations

import decimal
import dis
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

from django.db import models
from django.db.migrations.state import ModelState, ProjectState

__all__ = (
    "FOREIGN_KEY",
    "INDEX",
    "NOT_NULL",
    "UNIQUE",
    "ColumnType",
    "added_constraints",
    "column_field",
    "column_name",
    "column_type",
    "default_table_name",
    "describe_column_type",
    "has_foreign_key_constraint",
    "has_index",
    "has_volatile_default",
    "rebuilt",
    "rewrites_table",
    "table_name",
    "widens_type",
)

AnyField: TypeAlias = "models.Field[Any, Any]"

# What a column may gain, as messages name it.
NOT_NULL = "NOT NULL"
INDEX = "an index"
UNIQUE = "a unique constraint"
FOREIGN_KEY = "a foreign key constraint"


def rebuilt(field: AnyField, **changes: Any) -> AnyField:
    """Return a copy of an unbound ``field`` with some arguments changed."""
    _, _, args, kwargs = field.deconstruct()
    return field.__class__(*args, **{**kwargs, **changes})


def table_name(model: ModelState) -> str:
    """Return the table of a model state."""
    return str(
        model.options.get("db_table")
        or default_table_name(model.app_label, model.name_lower)
    )


def default_table_name(app_label: str, model_name: str) -> str:
    """Return the table Django names after a model without ``db_table``."""
    return f"{app_label}_{model_name.lower()}"


def column_name(field: AnyField, name: str) -> str:
    """Return the column of the field ``name`` of a model state."""
    if field.db_column:
        return str(field.db_column)
    return f"{name}_id" if field.many_to_one or field.one_to_one else name


def has_index(field: AnyField) -> bool:
    """Return whether a field has an index of its own (a unique field has the
    index of its constraint)."""
    return bool(field.db_index and not field.unique)  # type: ignore[attr-defined]


def has_foreign_key_constraint(field: AnyField | None) -> bool:
    """Return whether the column of a field has a foreign key constraint."""
    return bool(
        field is not None
        and (field.many_to_one or field.one_to_one)
        and getattr(field, "db_constraint", False)
    )


def added_constraints(old_field: AnyField | None, new_field: AnyField) -> list[str]:
    """Return what the column of ``new_field`` has and that of ``old_field``
    (``None`` for a field being added) lacks: ``NOT_NULL``, ``INDEX``,
    ``UNIQUE``, ``FOREIGN_KEY``, in that order."""
    added = []
    if not new_field.null and (old_field is None or old_field.null):
        added.append(NOT_NULL)
    if has_index(new_field) and not (old_field is not None and has_index(old_field)):
        added.append(INDEX)
    if new_field.unique and not (old_field is not None and old_field.unique):
        added.append(UNIQUE)
    if has_foreign_key_constraint(new_field) and not has_foreign_key_constraint(
        old_field
    ):
        added.append(FOREIGN_KEY)
    return added


# Callables that return equal values at every call.
_CONSTANT_FACTORIES = (
    dict,
    list,
    set,
    frozenset,
    tuple,
    str,
    bytes,
    int,
    float,
    bool,
    complex,
    decimal.Decimal,
)
# The instructions of a function that only builds a value out of constants,
# on every supported Python version.
_CONSTANT_INSTRUCTIONS = frozenset(
    {
        "RESUME",
        "NOP",
        "LOAD_CONST",
        "LOAD_SMALL_INT",
        "RETURN_CONST",
        "RETURN_VALUE",
        "BUILD_LIST",
        "BUILD_MAP",
        "BUILD_SET",
        "BUILD_TUPLE",
        "BUILD_CONST_KEY_MAP",
        "LIST_EXTEND",
        "LIST_TO_TUPLE",
        "SET_UPDATE",
        "DICT_UPDATE",
        "MAP_ADD",
    }
)


def has_volatile_default(field: AnyField) -> bool:
    """Return whether the default of ``field`` may give each row another value:
    a callable, unless it returns equal values at every call (``dict``,
    ``list``, a function that returns a literal)."""
    return (
        field.has_default()
        and callable(field.default)
        and not returns_constant(field.default)
    )


def returns_constant(function: Callable[[], Any]) -> bool:
    """Return whether calling ``function`` gives equal values every time,
    without calling it."""
    if any(function is factory for factory in _CONSTANT_FACTORIES):
        return True
    code = getattr(function, "__code__", None)
    if code is None or code.co_argcount or code.co_freevars:
        return False
    return all(
        instruction.opname in _CONSTANT_INSTRUCTIONS
        for instruction in dis.get_instructions(code)
    )


# Column types, as the internal types of Django's fields name them.


class ColumnType(NamedTuple):
    """The type of a column and the parameters that change it."""

    kind: str
    max_length: int | None
    max_digits: int | None
    decimal_places: int | None
    collation: str | None
    element: ColumnType | None


# Internal types whose columns have the type of another one.
_SAME_COLUMN_TYPE = {
    "SlugField": "CharField",
    "FileField": "CharField",
    "FilePathField": "CharField",
    # Both take the type of the target's primary key.
    "OneToOneField": "ForeignKey",
    # The same column with a check constraint (PostgreSQL).
    "PositiveIntegerField": "IntegerField",
    "PositiveBigIntegerField": "BigIntegerField",
    "PositiveSmallIntegerField": "SmallIntegerField",
}


def column_type(field: AnyField) -> ColumnType:
    """Return the type of the column of ``field``, without a database.

    Only the parameters that change the type of a column count: a
    ``max_length`` makes a ``varchar(n)``, but doesn't change a ``text``.
    ``element`` is the type of the elements of an array field.
    """
    internal_type = field.get_internal_type()
    kind = _SAME_COLUMN_TYPE.get(internal_type, internal_type)
    base_field = getattr(field, "base_field", None)
    return ColumnType(
        kind=kind,
        max_length=field.max_length if kind == "CharField" else None,
        max_digits=getattr(field, "max_digits", None),
        decimal_places=getattr(field, "decimal_places", None),
        collation=getattr(field, "db_collation", None),
        element=None if base_field is None else column_type(base_field),
    )


# The column type of a foreign key to a primary key of these types.
_REFERENCE_TYPES: dict[str, AnyField] = {
    "AutoField": models.IntegerField(),
    "BigAutoField": models.BigIntegerField(),
    "SmallAutoField": models.SmallIntegerField(),
}


def column_field(state: ProjectState, field: AnyField) -> AnyField:
    """Return a field with the column type of ``field``: for a foreign key,
    the type of the field it points to, found in ``state``.

    A reference ``state`` doesn't resolve is left as it is.
    """
    if not (field.many_to_one or field.one_to_one):
        return field
    reference = getattr(field.remote_field, "model", None)
    if not isinstance(reference, str) or "." not in reference:
        return field
    app_label, model_name = reference.split(".", 1)
    target_model = state.models.get((app_label, model_name.lower()))
    if target_model is None:
        return field
    to_field = field.to_fields[0]  # type: ignore[attr-defined]
    target = next(
        (
            each
            for name, each in target_model.fields.items()
            if name == to_field or (not to_field and each.primary_key)
        ),
        None,
    )
    if target is None:
        return field
    target = column_field(state, target)
    return _REFERENCE_TYPES.get(target.get_internal_type(), target)


def rewrites_table(old_field: AnyField, new_field: AnyField) -> bool:
    """Return whether altering ``old_field`` into ``new_field`` changes the
    type of its column in a way that makes PostgreSQL rewrite the table.

    Changes of metadata only don't: the same type with the same parameters,
    a ``CharField`` whose ``max_length`` grows or goes, ``CharField`` to
    ``TextField``, a ``DecimalField`` with more ``max_digits`` and the same
    ``decimal_places``. Any other change of type, or of collation, does.
    """
    old, new = column_type(old_field), column_type(new_field)
    if old.collation != new.collation or old.element != new.element:
        return True
    if old.kind == "CharField" and new.kind in ("CharField", "TextField"):
        return new.kind == "CharField" and not _widens(old.max_length, new.max_length)
    if old.kind == new.kind == "DecimalField":
        return old.decimal_places != new.decimal_places or not _widens(
            old.max_digits, new.max_digits
        )
    return old != new


# Column types whose values every one of the types listed converts to, and
# back, unchanged.
_WIDER_TYPES = {
    "SmallIntegerField": {"IntegerField", "BigIntegerField"},
    "IntegerField": {"BigIntegerField"},
    "SmallAutoField": {"AutoField", "BigAutoField"},
    "AutoField": {"BigAutoField"},
}


def widens_type(old_field: AnyField, new_field: AnyField) -> bool:
    """Return whether the column of ``new_field`` holds every value of that
    of ``old_field`` (smallint to integer or bigint, integer to bigint)."""
    old, new = column_type(old_field), column_type(new_field)
    return (
        old.collation == new.collation
        and old.element is new.element is None
        and new.kind in _WIDER_TYPES.get(old.kind, ())
    )


def _widens(old: int | None, new: int | None) -> bool:
    """Return whether a limit of ``new`` (``None``: no limit) admits every
    value ``old`` admits."""
    return new is None or (old is not None and new >= old)


def describe_column_type(field: AnyField) -> str:
    """Return the type of the column of ``field`` for messages, with the
    parameters that count: ``CharField(max_length=20)``."""
    parameters = column_type(field)._asdict()
    parameters["db_collation"] = parameters.pop("collation")
    arguments = ", ".join(
        f"{name}={value!r}"
        for name, value in parameters.items()
        if name not in ("kind", "element") and value is not None
    )
    internal_type = field.get_internal_type()
    return f"{internal_type}({arguments})" if arguments else internal_type
