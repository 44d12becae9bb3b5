"""Every use of private Django API and every Django version branch."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django.db.models import Field
from django.db.utils import load_backend

__all__ = (
    "ask_default",
    "choice_input",
    "close_thread_connection",
    "create_database",
    "destroy_database",
    "effective_default",
    "field_index_statements",
    "foreign_key_statement",
    "get_migrate_executor",
    "index_name",
    "new_connection",
    "open_thread_connection",
    "set_migrate_executor",
    "unique_statement",
    "unrendered_copy",
)


def get_migrate_executor() -> type[MigrationExecutor]:
    """Return the executor class the ``migrate`` command instantiates."""
    # migrate.handle() builds its executor inline from this module global
    # (Django 5.2 to 6.1): the only way to give it another class.
    return migrate.MigrationExecutor  # type: ignore[attr-defined,no-any-return]


def set_migrate_executor(executor_class: type[MigrationExecutor]) -> None:
    """Make the ``migrate`` command instantiate ``executor_class``."""
    migrate.MigrationExecutor = executor_class  # type: ignore[attr-defined]


def unrendered_copy(state: ProjectState) -> ProjectState:
    """Return a copy of ``state`` without its rendered apps, which its next
    user renders again if it needs them."""
    # ProjectState.clone() less the copy of the rendered apps, the slow part
    # on a large project (Django 5.2 to 6.1).
    copy = ProjectState(
        models={key: model.clone() for key, model in state.models.items()},
        real_apps=state.real_apps,
    )
    copy.is_delayed = state.is_delayed
    return copy


def effective_default(field: Field[Any, Any]) -> Any:
    """Return the value Django writes into existing rows when adding ``field``."""
    # A static method that needs no connection, private on every version.
    return BaseDatabaseSchemaEditor._effective_default(field)  # type: ignore[attr-defined]


# The prompts of Django's InteractiveMigrationQuestioner, private on every version;
# reusing them keeps syzygy's questions looking like Django's own.


def choice_input(questioner: Any, question: str, choices: list[str]) -> int:
    """Ask ``question`` and return the 1-based number of the chosen answer."""
    return questioner._choice_input(question, choices)  # type: ignore[no-any-return]


def ask_default(questioner: Any) -> Any:
    """Ask for a Python expression and return its value."""
    return questioner._ask_default()


def new_connection(alias: str) -> BaseDatabaseWrapper:
    """Return a connection to the database ``alias`` that no other code uses."""
    # ConnectionHandler.create_connection() is undocumented (Django 5.2 to
    # 6.1); it builds a wrapper exactly as connections[alias] does.
    return connections.create_connection(alias)


# The statements Django's schema editor builds for a field's indexes and
# constraints, private on every version (5.2 to 6.1); syzygy runs them in
# its own lock-safe way instead of letting ``alter_field`` run them.


def field_index_statements(
    schema_editor: BaseDatabaseSchemaEditor, model: Any, field: Field[Any, Any]
) -> list[Any]:
    """Return the ``CREATE INDEX`` statements Django builds for ``field`` alone."""
    return schema_editor._field_indexes_sql(model, field)  # type: ignore[attr-defined,no-any-return]


def foreign_key_statement(
    schema_editor: BaseDatabaseSchemaEditor,
    model: Any,
    field: Field[Any, Any],
    suffix: str = "_fk_%(to_table)s_%(to_column)s",
) -> Any:
    """Return the ``ADD CONSTRAINT ... FOREIGN KEY`` statement of ``field``;
    ``suffix`` ends its name (the default, as ``AddField`` names it;
    ``"_fk"``, as ``AlterField`` re-creates it)."""
    return schema_editor._create_fk_sql(model, field, suffix)  # type: ignore[attr-defined]


def unique_statement(
    schema_editor: BaseDatabaseSchemaEditor, model: Any, field: Field[Any, Any]
) -> Any:
    """Return the ``ADD CONSTRAINT ... UNIQUE`` statement of ``field``."""
    return schema_editor._create_unique_sql(model, [field])  # type: ignore[attr-defined]


def index_name(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str, suffix: str
) -> str:
    """Return a name for an index or constraint on a column, as Django makes them."""
    return schema_editor._create_index_name(table, [column], suffix=suffix)  # type: ignore[attr-defined,no-any-return]


def collate_sql(schema_editor: BaseDatabaseSchemaEditor, collation: str) -> str:
    """Return the ``COLLATE`` clause of a column definition, as Django writes it."""
    return schema_editor._collate_sql(collation)  # type: ignore[attr-defined,no-any-return]


def relations_to(model: Any) -> list[Any]:
    """Return the relations pointing to ``model``, those of auto-created
    many-to-many tables included, as ``alter_field`` finds them."""
    return list(
        model._meta._get_fields(
            forward=False, reverse=True, include_hidden=True, include_parents=False
        )
    )


# A rehearsal's scratch database is made and dropped the way the test runner
# makes and drops test databases; these methods are private on every version
# (5.2 to 6.1), and the public create_test_db() would also migrate it.


def create_database(connection: BaseDatabaseWrapper) -> str:
    """Create the database named by ``connection``'s ``TEST["NAME"]``; return
    its name."""
    return connection.creation._create_test_db(  # type: ignore[attr-defined,no-any-return]
        verbosity=0, autoclobber=True, keepdb=False
    )


def destroy_database(connection: BaseDatabaseWrapper, name: str) -> None:
    """Drop the database ``name`` that ``create_database`` made."""
    connection.creation._destroy_test_db(name, verbosity=0)  # type: ignore[attr-defined]


def end_sessions(connection: BaseDatabaseWrapper, name: str) -> None:
    """End every other session connected to the PostgreSQL database ``name``,
    from the maintenance database, as ``DROP DATABASE ... WITH (FORCE)``
    does (PostgreSQL 13+)."""
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )


# The scratch database's connections: one per thread, under an alias that
# no setting names. Assigning connections[alias] is undocumented (Django 5.2
# to 6.1); Django's test cases allow such dynamically created connections,
# where an alias added to the settings would be refused.


def open_thread_connection(alias: str, settings: dict[str, Any]) -> BaseDatabaseWrapper:
    """Make this thread's ``connections[alias]`` a connection with ``settings``."""
    wrapper: BaseDatabaseWrapper = load_backend(settings["ENGINE"]).DatabaseWrapper(
        settings, alias
    )
    connections[alias] = wrapper
    return wrapper


def replace_thread_connection(
    alias: str,
    settings: dict[str, Any],
    wrapper: BaseDatabaseWrapper | None = None,
) -> BaseDatabaseWrapper:
    """Make this thread's ``connections[alias]`` ``wrapper``, or a connection
    with ``settings``; return the one it replaces, left as it is."""
    replaced: BaseDatabaseWrapper = connections[alias]
    if wrapper is None:
        open_thread_connection(alias, settings)
    else:
        connections[alias] = wrapper
    return replaced


def close_thread_connection(alias: str) -> None:
    """Close this thread's ``connections[alias]`` and forget it."""
    connections[alias].close()
    del connections[alias]
