"""The steps of the quorum scenarios' migrations: each records that it ran.

Every step inserts a row naming its migration into the ``alpha_applylog``
table, in the migration's transaction: the tests count the rows to check that
each migration ran exactly once. Tests steer the steps in this process with
``hook``, and in other processes with files in the directory named by
``SYZYGY_QUORUM_TEST_CONTROL``: ``fail-<migration>`` makes the step raise
(after writing the time it did into ``failed-<migration>``), and
``block-<migration>`` makes it wait until the file is removed (after writing
its process id into ``applying-<migration>``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Set by in-process tests: called with the migration's name before its step.
hook: Callable[[str], None] | None = None
# How long a blocked step waits at most, so that a failed test can't hang.
LONGEST_BLOCK = 120.0


def record(name: str) -> Callable[[Any, Any], None]:
    """Return a ``RunPython`` function that records that ``name`` ran."""

    def run(apps: Any, schema_editor: Any) -> None:
        if hook is not None:
            hook(name)
        _obey_control_files(name)
        log = apps.get_model("alpha", "ApplyLog")
        log.objects.using(schema_editor.connection.alias).create(
            migration=name, pid=os.getpid()
        )

    return run


def _obey_control_files(name: str) -> None:
    directory = os.environ.get("SYZYGY_QUORUM_TEST_CONTROL")
    if not directory:
        return
    control = Path(directory)
    if (control / f"fail-{name}").exists():
        (control / f"failed-{name}").write_text(repr(time.time()))
        raise RuntimeError(f"{name} fails on purpose")
    block = control / f"block-{name}"
    if block.exists():
        (control / f"applying-{name}").write_text(str(os.getpid()))
        deadline = time.monotonic() + LONGEST_BLOCK
        while block.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
