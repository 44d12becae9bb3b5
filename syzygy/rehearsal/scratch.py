"""The scratch database a rehearsal runs on, made like a test database."""

from __future__ import annotations

import copy
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

from ..compat import add_alias, create_database, destroy_database, remove_alias

__all__ = ("ScratchDatabaseError", "scratch_database")

# PostgreSQL and MySQL cut longer names; the suffix must survive.
_NAME_LENGTH = 63


class ScratchDatabaseError(Exception):
    """The scratch database could not be created."""


@contextmanager
def scratch_database(alias: str) -> Iterator[str]:
    """Create an empty database on the server of ``alias`` and yield an
    alias of its own for it; drop the database and forget the alias on the
    way out, however it is left.

    On SQLite the database is a file in a temporary directory: threads of
    the rehearsal share it, which an in-memory database would not allow.
    """
    source = connections[alias]
    suffix = uuid.uuid4().hex[:8]
    scratch_alias = f"syzygy_rehearsal_{suffix}"
    settings = copy.deepcopy(source.settings_dict)
    directory = None
    if source.vendor == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="syzygy-rehearsal-"))
        name = str(directory / "rehearsal.sqlite3")
    else:
        tail = f"_rehearsal_{suffix}"
        name = f"{str(settings['NAME'])[: _NAME_LENGTH - len(tail)]}{tail}"
    settings["TEST"] = {**settings.get("TEST", {}), "NAME": name, "MIRROR": None}
    add_alias(scratch_alias, settings)
    created = False
    try:
        try:
            create_database(connections[scratch_alias])
        except SystemExit as exit:
            # Django's test database creation exits on errors it has logged.
            raise ScratchDatabaseError(
                f"The scratch database {name!r} could not be created on the "
                f"server of database {alias!r} (see the error above)."
            ) from exit
        created = True
        settings["NAME"] = name
        yield scratch_alias
    finally:
        try:
            scratch = connections[scratch_alias]
            scratch.close()
            if created:
                destroy_database(scratch, name)
        finally:
            remove_alias(scratch_alias)
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
