"""Reviews recorded in migration files: an operation, or every operation of a
migration, that a person checked and found safe despite what the lint says.

A migration records them in its ``reviewed_checks`` class attribute, a dict
of lint ids to the reason; ``reviewed()`` records them on one operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from django.db.migrations.operations.base import Operation

__all__ = ("LINT_IDS", "invalid_reviews", "reviewed", "reviews_of")

T = TypeVar("T", bound="Operation")

# The ids of the lint (syzygy.lint.IDS), which a review may silence.
LINT_IDS = tuple(f"syzygy.W00{number}" for number in range(2, 9))
_ACCEPTED = (
    f"a dict mapping lint ids ({LINT_IDS[0]} to {LINT_IDS[-1]}) to the reason "
    "of the review, a non-empty string"
)


def reviewed(operation: T, *ids: str, reason: str) -> T:
    """Return ``operation``, recording that it was reviewed for the lint
    ``ids`` for ``reason``: the lint doesn't report it for them."""
    reviews = {
        **getattr(operation, "reviewed_checks", {}),
        **dict.fromkeys(ids, reason),
    }
    problem = invalid_reviews(reviews) if ids else "no lint id is given"
    if problem is not None:
        raise ValueError(
            f"syzygy.reviewed({operation.describe()!r}, ...): {problem}; it takes "
            f"lint ids ({LINT_IDS[0]} to {LINT_IDS[-1]}) and reason=, a non-empty "
            "string."
        )
    operation.reviewed_checks = reviews  # type: ignore[attr-defined]
    return operation


def invalid_reviews(reviews: Any) -> str | None:
    """Return what is wrong with a ``reviewed_checks`` value, or ``None``."""
    if not isinstance(reviews, Mapping):
        return f"reviewed_checks is {type(reviews).__name__}, not {_ACCEPTED}"
    for check_id, reason in reviews.items():
        if check_id not in LINT_IDS:
            return f"{check_id!r} is not a lint id"
        if not isinstance(reason, str) or not reason.strip():
            return f"the reason for {check_id} is {reason!r}, not a non-empty string"
    return None


def reviews_of(holder: object) -> tuple[Mapping[str, str], str | None]:
    """Return the reviews a migration or an operation records, and what is
    wrong with them; invalid reviews count as none."""
    if not hasattr(holder, "reviewed_checks"):
        return {}, None
    reviews = holder.reviewed_checks
    problem = invalid_reviews(reviews)
    return ({}, problem) if problem is not None else (reviews, None)
