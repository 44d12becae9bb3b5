from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import makemigrations
from django.db.migrations import Migration
from django.db.migrations.autodetector import (
    MigrationAutodetector as DjangoMigrationAutodetector,
)
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from syzygy.autodetector import (
    MakemigrationsAborted,
    MigrationAutodetector,
    StageAwareAutodetectorMixin,
)
from syzygy.constants import Stage
from syzygy.exceptions import AmbiguousStage
from syzygy.operations import OutsideTransaction
from syzygy.plan import migration_stage, operation_stage


class StageAwareMakemigrationsMixin:
    """Make ``makemigrations`` write one stage per migration and say which.

    Mix into Django's ``makemigrations`` command, or into another package's
    subclass of it, before it.
    """

    autodetector: type[DjangoMigrationAutodetector] = MigrationAutodetector
    scriptable: bool
    include_header: bool

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)  # type: ignore[misc]
        parser.add_argument(
            "--disable-syzygy",
            action="store_true",
            help="Write migrations as Django does, without splitting them by stage.",
        )

    def handle(
        self, *app_labels: str, disable_syzygy: bool = False, **options: Any
    ) -> None:
        self._stage_labels: dict[str, str] = {}
        self._full_sources: dict[str, str] = {}
        self._disable_syzygy = disable_syzygy
        if disable_syzygy:
            self.autodetector = _without_stages(self.autodetector)
        try:
            super().handle(*app_labels, **options)  # type: ignore[misc]
        except MakemigrationsAborted as aborted:
            self.stderr.write(str(aborted))  # type: ignore[attr-defined]
            sys.exit(3)

    def write_migration_files(
        self, changes: dict[str, list[Migration]], *args: Any, **kwargs: Any
    ) -> None:
        for app_migrations in () if self._disable_syzygy else changes.values():
            for migration in app_migrations:
                writer = MigrationWriter(migration, self.include_header)
                self._stage_labels[writer.path] = _stage_label(migration)
                # A dry run shows the sources Django's writer makes.
                if self.dry_run and _class_attributes(migration):  # type: ignore[attr-defined]
                    source = writer.as_string()
                    self._full_sources[source] = _with_class_attributes(
                        source, migration
                    )
        super().write_migration_files(changes, *args, **kwargs)  # type: ignore[misc]
        if self.dry_run:  # type: ignore[attr-defined]
            return
        for app_migrations in changes.values():
            for migration in app_migrations:
                if _class_attributes(migration):
                    _write_class_attributes(MigrationWriter(migration).path, migration)

    def log(self, msg: str) -> None:
        super().log(self._full_sources.get(msg, msg))  # type: ignore[misc]

    def get_relative_path(self, path: str) -> str:
        relative_path: str = super().get_relative_path(path)  # type: ignore[misc]
        # Scripts read bare paths on stdout.
        label = self._stage_labels.get(path)
        if label is None or self.scriptable:
            return relative_path
        return f"{relative_path}  [{label}]"

    def write_to_last_migration_files(
        self, changes: dict[str, list[Migration]]
    ) -> None:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        for app_label, app_migrations in changes.items():
            stages: set[Stage | None] = {
                operation_stage(operation)
                for migration in app_migrations
                for operation in migration.operations
            }
            for leaf in loader.graph.leaf_nodes(app_label):
                try:
                    stages.add(migration_stage(loader.graph.nodes[leaf]).stage)
                except AmbiguousStage:
                    stages.update(Stage)
            stages.discard(None)
            if any(
                isinstance(operation, OutsideTransaction)
                for migration in app_migrations
                for operation in migration.operations
            ) or any(
                not loader.graph.nodes[leaf].atomic
                for leaf in loader.graph.leaf_nodes(app_label)
            ):
                raise CommandError(
                    f"--update can't merge the changes of app '{app_label}' into "
                    "its last migration: lock-safe operations run in a migration "
                    "of their own, with atomic = False. Run makemigrations without "
                    "--update."
                )
            if len(stages) > 1:
                raise CommandError(
                    f"--update can't merge the changes of app '{app_label}' into its "
                    "last migration: pre-deploy and post-deploy operations would "
                    "share one migration. Run makemigrations without --update."
                )
        super().write_to_last_migration_files(changes)  # type: ignore[misc]


def _class_attributes(migration: Migration) -> list[str]:
    """Return the lines that declare what Django's writer leaves out of a
    migration file: ``Migration.atomic`` and syzygy's ``reviewed_checks``."""
    lines = []
    if not migration.atomic:
        lines.append("    atomic = False\n")
    reviews = getattr(migration, "reviewed_checks", None)
    if reviews:
        lines.append("    reviewed_checks = {\n")
        lines.extend(
            f"        {check_id!r}: {reason!r},\n"
            for check_id, reason in reviews.items()
        )
        lines.append("    }\n")
    return lines


def _with_class_attributes(source: str, migration: Migration) -> str:
    """Return the source of a migration file with ``_class_attributes``."""
    declaration = "class Migration(migrations.Migration):\n"
    attributes = "".join(_class_attributes(migration))
    return source.replace(declaration, f"{declaration}{attributes}", 1)


def _write_class_attributes(path: str, migration: Migration) -> None:
    """Add ``_class_attributes`` to a written migration file."""
    with open(path, encoding="utf-8") as file:
        source = file.read()
    with open(path, "w", encoding="utf-8") as file:
        file.write(_with_class_attributes(source, migration))


def _without_stages(
    autodetector: type[DjangoMigrationAutodetector],
) -> type[DjangoMigrationAutodetector]:
    """Return the autodetector ``autodetector`` extends with syzygy's rules."""
    return next(
        base
        for base in autodetector.__mro__
        if issubclass(base, DjangoMigrationAutodetector)
        and not issubclass(base, StageAwareAutodetectorMixin)
    )


def _stage_label(migration: Migration) -> str:
    try:
        stage = migration_stage(migration).stage
    except AmbiguousStage:
        return "ambiguous stage: set Migration.stage"
    return "no operations" if stage is None else stage.label


class Command(StageAwareMakemigrationsMixin, makemigrations.Command):
    pass
