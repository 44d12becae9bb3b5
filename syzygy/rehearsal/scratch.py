"""The scratch database a rehearsal runs on, made like a test database."""

from __future__ import annotations

import copy
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connections

from ..compat import (
    close_thread_connection,
    create_database,
    destroy_database,
    open_thread_connection,
)

__all__ = ("ScratchDatabase", "ScratchDatabaseError", "scratch_database")

# PostgreSQL and MySQL cut longer names; the suffix must survive.
_NAME_LENGTH = 63


class ScratchDatabaseError(Exception):
    """The scratch database could not be created."""


@dataclass
class ScratchDatabase:
    """A database made for a rehearsal, reached under ``alias`` by the
    threads that ``connect()``."""

    alias: str
    name: str
    settings: dict[str, Any]

    def connect(self) -> None:
        """Give this thread a connection to the scratch database."""
        open_thread_connection(self.alias, self.settings)

    def disconnect(self) -> None:
        """Close this thread's connection to the scratch database."""
        close_thread_connection(self.alias)


@contextmanager
def scratch_database(alias: str) -> Iterator[ScratchDatabase]:
    """Create an empty database on the server of ``alias``, connect this
    thread to it and yield it; drop it on the way out, however it is left.

    Every other thread must have closed its connection by then. On SQLite
    the database is a file in a temporary directory: threads share it, which
    an in-memory database would not allow.
    """
    source = connections[alias]
    suffix = uuid.uuid4().hex[:8]
    settings = copy.deepcopy(source.settings_dict)
    directory = None
    if source.vendor == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="syzygy-rehearsal-"))
        name = str(directory / "rehearsal.sqlite3")
    else:
        tail = f"_rehearsal_{suffix}"
        name = f"{str(settings['NAME'])[: _NAME_LENGTH - len(tail)]}{tail}"
    settings["TEST"] = {**settings.get("TEST", {}), "NAME": name, "MIRROR": None}
    scratch = ScratchDatabase(f"syzygy_rehearsal_{suffix}", name, settings)
    scratch.connect()
    created = False
    try:
        try:
            create_database(connections[scratch.alias])
        except SystemExit as exit:
            # Django's test database creation exits on errors it has logged.
            raise ScratchDatabaseError(
                f"The scratch database {name!r} could not be created on the "
                f"server of database {alias!r} (see the error above)."
            ) from exit
        created = True
        settings["NAME"] = name
        yield scratch
    finally:
        try:
            wrapper = connections[scratch.alias]
            wrapper.close()
            # On SQLite, the directory removed below holds all there is.
            if directory is None:
                if created:
                    destroy_database(wrapper, name)
                else:
                    # Creating it failed or was interrupted: it may exist.
                    with suppress(DatabaseError):
                        destroy_database(wrapper, name)
        finally:
            scratch.disconnect()
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
