"""The scratch database a rehearsal runs on, made like a test database."""

from __future__ import annotations

import copy
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings as project_settings
from django.db import DatabaseError, connections

from ..compat import (
    close_thread_connection,
    create_database,
    destroy_database,
    end_sessions,
    open_thread_connection,
    replace_thread_connection,
)

__all__ = ("ScratchDatabase", "ScratchDatabaseError", "scratch_database")

# PostgreSQL and MySQL cut longer names; the suffix must survive.
_NAME_LENGTH = 63


class ScratchDatabaseError(Exception):
    """The scratch database could not be created."""


@dataclass
class ScratchDatabase:
    """A database made for a rehearsal, reached under ``alias`` by the
    threads that ``connect()``; once it exists, under the project's aliases
    too.

    Data migrations often write to the default database whatever the
    database migrated (``Model.objects`` without ``using``): in the threads
    of a rehearsal, every alias of the project reaches the scratch database,
    so that nothing of the rehearsal reaches the project's databases.
    """

    alias: str
    name: str
    settings: dict[str, Any]
    # The project's alias rehearsed: it shares the scratch alias's
    # connection, as a data migration's queries share the migration's.
    rehearsed: str
    stands_in: bool = False
    _replaced: threading.local = field(default_factory=threading.local)

    def connect(self) -> None:
        """Give this thread a connection to the scratch database."""
        wrapper = open_thread_connection(self.alias, self.settings)
        if not self.stands_in:
            return
        self._replaced.connections = {}
        for alias in project_settings.DATABASES:
            shared = wrapper if alias == self.rehearsed else None
            self._replaced.connections[alias] = replace_thread_connection(
                alias, self.settings, shared
            )

    def disconnect(self) -> None:
        """Close this thread's connections to the scratch database."""
        self.give_back()
        close_thread_connection(self.alias)

    def give_back(self) -> None:
        """Give this thread back its connections to the project's databases."""
        for alias, replaced in getattr(self._replaced, "connections", {}).items():
            if alias != self.rehearsed:
                connections[alias].close()
            replace_thread_connection(alias, self.settings, replaced)
        self._replaced.connections = {}


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
    scratch = ScratchDatabase(f"syzygy_rehearsal_{suffix}", name, settings, alias)
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
        scratch.stands_in = True
        scratch.disconnect()
        scratch.connect()
        yield scratch
    finally:
        # No connection of this thread may be left to the database dropped.
        scratch.give_back()
        try:
            wrapper = connections[scratch.alias]
            wrapper.close()
            # On SQLite, the directory removed below holds all there is.
            if directory is None:
                # A connection an interrupt left half open would keep the
                # database from being dropped (PostgreSQL; elsewhere a no-op).
                with suppress(DatabaseError):
                    end_sessions(wrapper, name)
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
