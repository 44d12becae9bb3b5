"""Migrations that hold concurrent ``migrate`` runs at a rendezvous."""

from __future__ import annotations

import threading

# Set by the test: every run waits there until all runs are mid-migration.
rendezvous: threading.Barrier | None = None
