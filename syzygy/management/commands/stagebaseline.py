from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader

from syzygy import conf
from syzygy.exceptions import AmbiguousStage
from syzygy.plan import graph_history, migration_stage


class Command(BaseCommand):
    help = (
        "Print the SYZYGY_STAGE_BASELINE setting that makes the migrations on "
        "disk history: they ran on every database before syzygy managed the "
        "deploys, and need no stage."
    )
    # It reads the migration files only; syzygy.E001 reports what it settles.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "args",
            metavar="app_label",
            nargs="*",
            help=(
                "Apps to give a baseline (default: every app with a migration "
                "that mixes stages and no baseline after it)."
            ),
        )

    def handle(self, *app_labels: str, **options: Any) -> None:
        try:
            config = conf.stage_config()
            for app_label in app_labels:
                apps.get_app_config(app_label)
        except (ImproperlyConfigured, LookupError) as exc:
            raise CommandError(str(exc)) from exc
        graph = MigrationLoader(None, ignore_no_migrations=True).graph
        baseline = dict(config.baseline)
        mixed = 0
        for app_label in sorted({key[0] for key in graph.nodes}):
            ambiguous = _ambiguous(graph, app_label, config)
            covered = graph_history(graph, app_label, baseline.get(app_label, ""))
            if app_label in app_labels or not ambiguous <= covered:
                baseline[app_label] = _leaf(graph, app_label)
                covered = graph_history(graph, app_label, baseline[app_label])
            mixed += len(ambiguous & covered)
        missing = sorted(set(app_labels) - {key[0] for key in graph.nodes})
        if missing:
            raise CommandError(f"App '{missing[0]}' has no migrations.")
        if not baseline:
            self.stdout.write("No migration mixes stages: no baseline is needed.")
            return
        self.stdout.write(
            "# The migrations up to these ran on every database before syzygy\n"
            "# managed the deploys: they need no stage "
            f"({mixed} of them mix stages).\n"
            "SYZYGY_STAGE_BASELINE = {"
        )
        for app_label, name in sorted(baseline.items()):
            self.stdout.write(f"    {app_label!r}: {name!r},")
        self.stdout.write("}")


def _ambiguous(
    graph: MigrationGraph, app_label: str, config: conf.StageConfig
) -> set[str]:
    """Return the names of the migrations of an app whose stage is ambiguous."""
    names = set()
    for (label, name), migration in graph.nodes.items():
        if label != app_label or migration is None:
            continue
        try:
            migration_stage(migration, config)
        except AmbiguousStage:
            names.add(name)
    return names


def _leaf(graph: MigrationGraph, app_label: str) -> str:
    """Return the last migration of an app."""
    leaves = graph.leaf_nodes(app_label)
    if len(leaves) > 1:
        raise CommandError(
            f"App '{app_label}' has conflicting migrations "
            f"({', '.join(name for _, name in leaves)}): merge them with "
            "`makemigrations --merge`, then run this command again."
        )
    return str(leaves[0][1])
