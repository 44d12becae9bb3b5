"""Every use of private Django API and every Django version branch."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Field

__all__ = ("effective_default", "migrate_command_module")

# `migrate.handle()` builds its MigrationExecutor inline from this module's
# global (Django 5.2 to 6.1): the only way to give it a stage-aware one.
migrate_command_module = migrate


def effective_default(field: Field[Any, Any]) -> Any:
    """Return the value Django writes into existing rows when adding ``field``."""
    # A static method that needs no connection, private on every version.
    return BaseDatabaseSchemaEditor._effective_default(field)
