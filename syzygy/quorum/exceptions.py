"""Errors of the quorum: what waiting parties learn when a round goes wrong."""

from __future__ import annotations

__all__ = (
    "ApplierLost",
    "QuorumDisolved",
    "QuorumDissolved",
    "QuorumError",
    "QuorumTimeout",
    "QuorumUnavailable",
)


class QuorumError(Exception):
    """Base class of the errors of the quorum."""


class QuorumDissolved(QuorumError):
    """The quorum was severed: the party applying the plan failed."""


# The 1.x spelling, kept for code that imports or catches it.
QuorumDisolved = QuorumDissolved


class ApplierLost(QuorumDissolved):
    """The party applying the plan stopped heartbeating or lost its session."""


class QuorumTimeout(QuorumError):
    """A party waited longer than it was allowed to."""


class QuorumUnavailable(QuorumError):
    """The quorum backend (cache, database) can't be reached or misbehaves."""
