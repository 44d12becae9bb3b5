"""Every use of private Django API and every Django version branch."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.questioner import InteractiveMigrationQuestioner
from django.db.models import Field

__all__ = (
    "ask_default",
    "choice_input",
    "effective_default",
    "get_migrate_executor",
    "set_migrate_executor",
)


def get_migrate_executor() -> type[MigrationExecutor]:
    """Return the executor class the ``migrate`` command instantiates."""
    # migrate.handle() builds its executor inline from this module global
    # (Django 5.2 to 6.1): the only way to give it another class.
    return migrate.MigrationExecutor  # type: ignore[attr-defined,no-any-return]


def set_migrate_executor(executor_class: type[MigrationExecutor]) -> None:
    """Make the ``migrate`` command instantiate ``executor_class``."""
    migrate.MigrationExecutor = executor_class  # type: ignore[attr-defined]


def effective_default(field: Field[Any, Any]) -> Any:
    """Return the value Django writes into existing rows when adding ``field``."""
    # A static method that needs no connection, private on every version.
    return BaseDatabaseSchemaEditor._effective_default(field)  # type: ignore[attr-defined]


# The prompts of Django's interactive questioner, private on every version;
# reusing them keeps syzygy's questions looking like Django's own.


def choice_input(
    questioner: InteractiveMigrationQuestioner, question: str, choices: list[str]
) -> int:
    """Ask ``question`` and return the 1-based number of the chosen answer."""
    return questioner._choice_input(question, choices)  # type: ignore[attr-defined,no-any-return]


def ask_default(questioner: InteractiveMigrationQuestioner) -> Any:
    """Ask for a Python expression and return its value."""
    return questioner._ask_default()  # type: ignore[attr-defined]
