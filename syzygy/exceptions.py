"""Public exceptions. Both subclass ``ValueError`` as they did in 1.x."""

from __future__ import annotations

__all__ = ("AmbiguousPlan", "AmbiguousStage")


class AmbiguousStage(ValueError):
    """The stage of a migration can't be determined from its operations."""


class AmbiguousPlan(ValueError):
    """A migration kept for pre-deploy depends on one postponed to post-deploy."""
