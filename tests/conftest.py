from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI=true a missing PostgreSQL or Redis fails the run."""
    if os.environ.get("CI") != "true":
        return
    missing = []
    if settings.DATABASE == "postgresql":
        database = settings.DATABASES["default"]
        if not _reachable(database["HOST"], int(database["PORT"])):
            missing.append(f"PostgreSQL at {database['HOST']}:{database['PORT']}")
    redis_url = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if not _reachable(redis_url.hostname or "127.0.0.1", redis_url.port or 6379):
        missing.append(f"Redis at {redis_url.hostname}:{redis_url.port}")
    if missing:
        pytest.exit("CI=true but unreachable: " + ", ".join(missing), returncode=1)
