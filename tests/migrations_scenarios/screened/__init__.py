"""Migrations that syzygy.E001 decides from their source, and migrations it
must import: a custom operation of another module, a RemoveField."""

from __future__ import annotations

from django.db import migrations


class DropField(migrations.RemoveField):
    """A removal under another name."""
