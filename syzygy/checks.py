"""System checks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from importlib import import_module
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader

from . import conf
from .exceptions import AmbiguousStage
from .plan import migration_stage

__all__ = ("check_migration_stages", "check_stage_setting_keys")

ID = "syzygy.E001"
# django-syzygy 1.x reported ambiguous stages under this id.
LEGACY_ID = "migrations.0001"


def check_migration_stages(
    app_configs: Iterable[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Report every migration whose stage is ambiguous (``syzygy.E001``).

    It imports every migration module, which ``manage.py check`` otherwise
    never does; like Django's database checks it runs when databases are
    checked: ``migrate``, ``check --database``, and the test runner.
    """
    silenced = settings.SILENCED_SYSTEM_CHECKS
    if databases is None or ID in silenced or LEGACY_ID in silenced:
        return []
    config = conf.stage_config()
    errors: list[CheckMessage] = []
    for app_config in apps.get_app_configs() if app_configs is None else app_configs:
        for migration in _disk_migrations(app_config):
            try:
                migration_stage(migration, config)
            except AmbiguousStage as exc:
                errors.append(
                    Error(
                        str(exc),
                        hint=(
                            "Set `stage = syzygy.Stage.PRE_DEPLOY` or "
                            "`syzygy.Stage.POST_DEPLOY` on the Migration class, "
                            "split its operations into one migration per stage "
                            "if it isn't applied anywhere yet, or, for a "
                            "migration you don't control, set its stage in "
                            "MIGRATION_STAGES_OVERRIDE or MIGRATION_STAGES_FALLBACK."
                        ),
                        obj=migration,
                        id=ID,
                    )
                )
    return errors


def check_stage_setting_keys(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report keys of the stage settings that name nothing (``syzygy.W001``).

    A misspelt app label or migration name would otherwise be ignored.
    """
    config = conf.stage_config()
    installed = {app_config.label for app_config in apps.get_app_configs()}
    checked = (
        installed
        if app_configs is None
        else {app_config.label for app_config in app_configs}
    )
    warnings: list[CheckMessage] = []
    for setting, stages in (
        ("MIGRATION_STAGES_OVERRIDE", config.override),
        ("MIGRATION_STAGES_FALLBACK", config.fallback),
    ):
        for key in stages:
            app_label, _, name = key.partition(".")
            if app_label not in installed:
                problem = f"no installed app has the label {app_label!r}"
            elif app_label not in checked:
                continue
            elif name and name not in _migration_names(apps.get_app_config(app_label)):
                problem = f"app {app_label!r} has no migration named {name!r}"
            else:
                continue
            warnings.append(
                Warning(
                    f"{setting} has the key {key!r}, but {problem}.",
                    hint=(
                        "Keys are 'app_label' or 'app_label.migration_name', with "
                        "the full name of the migration file without '.py'."
                    ),
                    id="syzygy.W001",
                )
            )
    return warnings


def _migration_names(app_config: AppConfig) -> set[str]:
    module_name, _ = MigrationLoader.migrations_module(app_config.label)
    try:
        module = import_module(module_name) if module_name is not None else None
    except ImportError:
        module = None
    if module is None or not hasattr(module, "__path__"):
        return set()
    return _module_names(module.__path__)


def _disk_migrations(app_config: AppConfig) -> Iterator[Migration]:
    """Yield the migrations of an app as its migrations package holds them.

    Broken packages are left for Django's loader to report.
    """
    module_name, _ = MigrationLoader.migrations_module(app_config.label)
    if module_name is None:
        return
    try:
        module = import_module(module_name)
    except ImportError:
        return
    # A namespace package or a plain module holds no migrations.
    if getattr(module, "__file__", None) is None or not hasattr(module, "__path__"):
        return
    for name in sorted(_module_names(module.__path__)):
        try:
            migration_class = import_module(f"{module_name}.{name}").Migration
        except (ImportError, AttributeError):
            continue
        yield migration_class(name, app_config.label)


def _module_names(paths: Iterable[str]) -> set[str]:
    """Return the names of the Python modules of a package's directories.

    Like Django's loader, skip names starting with ``_`` or ``~``; scanning
    the directories is much cheaper than ``pkgutil.iter_modules``.
    """
    names = set()
    for path in paths:
        with os.scandir(path) as entries:
            for entry in entries:
                name, extension = os.path.splitext(entry.name)
                if extension == ".py" and name[0] not in "_~" and entry.is_file():
                    names.add(name)
    return names
