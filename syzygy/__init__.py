"""Zero-downtime deploys of Django schema migrations."""

from __future__ import annotations

from .constants import Stage
from .exceptions import AmbiguousPlan, AmbiguousStage
from .reviews import reviewed

__all__ = ("AmbiguousPlan", "AmbiguousStage", "Stage", "reviewed")
