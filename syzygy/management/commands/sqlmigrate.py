from __future__ import annotations

from typing import Any

from django.core.management.commands import sqlmigrate
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from syzygy.exceptions import AmbiguousStage
from syzygy.plan import inverted, migration_stage
from syzygy.sql import lock_bounds


class Command(sqlmigrate.Command):
    help = (
        "Prints the SQL statements for the named migration, with its stage and, "
        "on PostgreSQL, the lock bounds syzygy's migrate sets."
    )

    def handle(self, *args: Any, **options: Any) -> str:
        sql = super().handle(*args, **options) or ""
        connection = connections[options["database"]]
        loader = MigrationLoader(connection, replace_migrations=False)
        migration = loader.get_migration_by_prefix(
            options["app_label"], options["migration_name"]
        )
        self.stdout.write(f"-- {_stage_description(migration, options['backwards'])}")
        # Django wraps the output in BEGIN and COMMIT if it runs in a transaction.
        return "\n".join([*lock_bounds(connection, migration), sql])


def _stage_description(migration: Any, backwards: bool) -> str:
    try:
        resolved = migration_stage(migration)
    except AmbiguousStage:
        return "Stage: ambiguous (set Migration.stage)"
    if resolved.stage is None:
        return "Stage: none of its own (no operations)"
    if backwards:
        stage = inverted(resolved.stage)
        return (
            f"Stage: {stage.label} (reverting a {resolved.stage.label} migration, "
            f"{resolved.origin.value})"
        )
    return f"Stage: {resolved.stage.label} ({resolved.origin.value})"
