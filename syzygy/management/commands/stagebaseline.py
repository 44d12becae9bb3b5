from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader

from syzygy import conf
from syzygy.checks import ambiguous_migrations


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
        migrated = {app_label for app_label, _ in graph.nodes}
        missing = sorted(set(app_labels) - migrated)
        if missing:
            raise CommandError(f"App '{missing[0]}' has no migrations.")
        baseline = dict(config.baseline)
        for app_config in apps.get_app_configs():
            label = app_config.label
            if label in migrated and (
                label in app_labels or ambiguous_migrations(app_config, config)
            ):
                baseline[label] = _leaf(graph, label)
        if not baseline:
            self.stdout.write("No migration mixes stages: no baseline is needed.")
            return
        # syzygy.E001 reports what the baseline leaves out, if anything.
        without_baseline = replace(config, baseline={})
        mixed = sum(
            len(ambiguous_migrations(apps.get_app_config(label), without_baseline))
            for label in baseline
        )
        self.stdout.write(
            "# The migrations up to these ran on every database before syzygy\n"
            "# managed the deploys: they need no stage "
            f"({mixed} of them mix stages).\n"
            "SYZYGY_STAGE_BASELINE = {"
        )
        for app_label, name in sorted(baseline.items()):
            self.stdout.write(f"    {app_label!r}: {name!r},")
        self.stdout.write("}")


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
