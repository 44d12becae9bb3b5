"""Coordinate several parties, such as clusters, that migrate one database.

The backend is configured with ``MIGRATION_QUORUM_BACKEND``. The functions
below keep the protocol and the signatures of django-syzygy 1.x;
``migrate --quorum`` uses the richer ``QuorumBase.party``.
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import conf
from ..constants import Stage
from ..plan import Plan
from .backends.base import QuorumBase
from .exceptions import (
    ApplierLost,
    QuorumDisolved,
    QuorumDissolved,
    QuorumError,
    QuorumTimeout,
    QuorumUnavailable,
)

__all__ = (
    "ApplierLost",
    "QuorumDisolved",
    "QuorumDissolved",
    "QuorumError",
    "QuorumTimeout",
    "QuorumUnavailable",
    "get_quorum_backend",
    "join_quorum",
    "plan_namespace",
    "poll_quorum",
    "sever_quorum",
)


def get_quorum_backend() -> QuorumBase:
    """Return the backend ``MIGRATION_QUORUM_BACKEND`` configures."""
    path, options = conf.quorum_backend_setting()
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"MIGRATION_QUORUM_BACKEND names {path!r}, which can't be imported: {exc}"
        ) from exc
    if not isinstance(backend_class, type) or not issubclass(backend_class, QuorumBase):
        raise ImproperlyConfigured(
            f"MIGRATION_QUORUM_BACKEND names {path!r}, which is not a subclass of "
            f"syzygy.quorum.backends.base.QuorumBase."
        )
    try:
        return backend_class(**options)
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"MIGRATION_QUORUM_BACKEND gives {path!r} options it doesn't accept "
            f"({options!r}): {exc}"
        ) from exc


def join_quorum(namespace: str, quorum: int) -> bool:
    """Join ``namespace`` and return whether this call completed the quorum."""
    return get_quorum_backend().join(namespace=namespace, quorum=quorum)


def sever_quorum(namespace: str, quorum: int) -> None:
    """Dissolve ``namespace``: the parties polling it raise ``QuorumDissolved``."""
    get_quorum_backend().sever(namespace=namespace, quorum=quorum)


def poll_quorum(namespace: str, quorum: int) -> bool:
    """Return whether ``namespace`` reached ``quorum``.

    Raise ``QuorumDissolved`` if it was severed.
    """
    return get_quorum_backend().poll(namespace=namespace, quorum=quorum)


def plan_namespace(stage: Stage, database: str, plan: Plan) -> str:
    """Return the namespace in which the parties applying ``plan`` meet.

    Parties meet only if they run the same stage on the same database alias
    with the same plan: the same migrations, in the same order and direction.
    """
    steps = "\n".join(
        f"{migration.app_label}.{migration.name}:{int(backwards)}"
        for migration, backwards in plan
    )
    digest = hashlib.sha256(steps.encode()).hexdigest()
    return f"{stage.label}:{database}:{digest}"
