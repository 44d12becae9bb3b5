"""Services and backends for the quorum tests.

A test that needs Redis or PostgreSQL skips when the service is absent,
except under ``CI=true``, where an absent service fails it.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from syzygy.quorum.backends.base import QuorumBase
from syzygy.quorum.backends.cache import CacheQuorum

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The liveness settings of tests that lose an applying party on purpose.
FAST_LIVENESS = {
    "SYZYGY_QUORUM_HEARTBEAT_INTERVAL": 0.05,
    "SYZYGY_QUORUM_LIVENESS_TIMEOUT": 0.5,
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def require_redis() -> str:
    """Return the URL of the Redis server, or skip the test without one."""
    address = urlsplit(REDIS_URL)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        _unavailable(f"Redis is not reachable at {host}:{port} (REDIS_URL)")
    return REDIS_URL


def require_postgresql() -> None:
    """Skip the test unless the suite runs on PostgreSQL."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "the database is not PostgreSQL (set SYZYGY_TEST_DATABASE=postgresql)"
        )


def redis_caches(url: str) -> dict[str, Any]:
    """Return ``CACHES`` with a django-redis alias ``quorum`` on ``url``."""
    return {
        **settings.CACHES,
        "quorum": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url},
    }


def closed_port() -> int:
    """Return a loopback port on which nothing listens."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port: int = listener.getsockname()[1]
    return port


class ThreadQuorum(CacheQuorum):
    """A quorum whose parties are threads of the test process, on the
    local-memory cache."""

    single_process = True


THREAD_QUORUM = "tests.quorum_support.ThreadQuorum"


class LegacyQuorum(QuorumBase):
    """A backend written for django-syzygy 1.x: ``join``, ``sever``, ``poll``."""

    def __init__(self, alias: str = "default") -> None:
        self._cache = ThreadQuorum(alias)

    def join(self, namespace: str, quorum: int) -> bool:
        return self._cache.join(namespace, quorum)

    def sever(self, namespace: str, quorum: int) -> None:
        self._cache.sever(namespace, quorum)

    def poll(self, namespace: str, quorum: int) -> bool:
        return self._cache.poll(namespace, quorum)
