"""System checks."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import import_module
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.core.management import get_commands, load_command_class
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.utils.module_loading import import_string

from . import conf
from .exceptions import AmbiguousStage
from .plan import history, migration_stage

__all__ = (
    "ambiguous_migrations",
    "check_commands",
    "check_migration_stages",
    "check_settings",
    "check_stage_setting_keys",
    "stages_left_to_the_plan",
)

ID = "syzygy.E001"
# django-syzygy 1.x reported ambiguous stages under this id.
LEGACY_ID = "migrations.0001"

_left_to_the_plan: ContextVar[bool] = ContextVar(
    "syzygy_stages_left_to_the_plan", default=False
)


def check_migration_stages(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every migration whose stage is ambiguous (``syzygy.E001``).

    Migrations that ``SYZYGY_STAGE_BASELINE`` makes history need no stage.
    It imports every migration module, as ``runserver`` and ``migrate`` do
    anyway. ``migrate`` leaves the stages to its plan, which needs them only
    for a pre-deploy plan (see ``stages_left_to_the_plan``).
    """
    silenced = settings.SILENCED_SYSTEM_CHECKS
    if _left_to_the_plan.get() or ID in silenced or LEGACY_ID in silenced:
        return []
    try:
        config = conf.stage_config()
    except ImproperlyConfigured:
        return []  # syzygy.E003 reports it.
    errors: list[CheckMessage] = []
    for app_config in apps.get_app_configs() if app_configs is None else app_configs:
        errors.extend(
            Error(
                str(exc),
                hint=(
                    "Set `stage = syzygy.Stage.PRE_DEPLOY` or "
                    "`syzygy.Stage.POST_DEPLOY` on the Migration class, split its "
                    "operations into one migration per stage if it isn't applied "
                    "anywhere yet, or, for a migration you don't control, set its "
                    "stage in MIGRATION_STAGES_OVERRIDE or MIGRATION_STAGES_FALLBACK. "
                    "If it ran on every database long ago, run "
                    "`manage.py stagebaseline` instead."
                ),
                obj=migration,
                id=ID,
            )
            for migration, exc in ambiguous_migrations(app_config, config)
        )
    return errors


def ambiguous_migrations(
    app_config: AppConfig, config: conf.StageConfig
) -> list[tuple[Migration, AmbiguousStage]]:
    """Return the migration files of an app whose stage is ambiguous and that
    its baseline doesn't make history, each with the error that says why."""
    # Walking the history back from a baseline needs every migration.
    screened = app_config.label not in config.baseline
    migrations = {
        migration.name: migration
        for migration in _disk_migrations(app_config, screened=screened)
    }
    history = _disk_history(app_config.label, migrations, config)
    ambiguous = []
    for name, migration in sorted(migrations.items()):
        if name in history:
            continue
        try:
            migration_stage(migration, config)
        except AmbiguousStage as exc:
            ambiguous.append((migration, exc))
    return ambiguous


def _disk_history(
    app_label: str, migrations: dict[str, Migration], config: conf.StageConfig
) -> set[str]:
    """Return the names of the migrations of an app up to its baseline.

    Squashed migrations count with the migrations they replace: later
    migrations may depend on either.
    """
    baseline = config.baseline.get(app_label)
    if baseline not in migrations:
        return set()  # No baseline, or syzygy.W001 reports it.

    def same_app(keys: Iterable[tuple[str, str]]) -> set[str]:
        return {name for label, name in keys if label == app_label}

    def parents(name: str) -> set[str]:
        migration = migrations.get(name)
        if migration is None:
            return set()  # Replaced, and deleted since.
        return same_app([*migration.dependencies, *(migration.replaces or ())])

    names = history(baseline, parents)
    squashes = {
        name: same_app(migration.replaces)
        for name, migration in migrations.items()
        if migration.replaces
    }
    grown = True
    while grown:
        grown = False
        for name, replaced in squashes.items():
            if name not in names and replaced <= names:
                names |= history(name, parents)
                grown = True
    return names


@contextmanager
def stages_left_to_the_plan() -> Iterator[None]:
    """Leave ambiguous stages out of the checks run in this context.

    ``migrate`` runs the system checks before it plans: a whole plan needs no
    stage, and a pre-deploy plan raises ``AmbiguousStage`` for the migrations
    it holds, and only for them.
    """
    token = _left_to_the_plan.set(True)
    try:
        yield
    finally:
        _left_to_the_plan.reset(token)


def check_commands(**kwargs: Any) -> list[CheckMessage]:
    """Report a ``migrate`` or ``makemigrations`` command of another app that
    hides syzygy's (``syzygy.W010``).

    Django runs the command of the first app in ``INSTALLED_APPS`` that has
    one: ``migrate --pre-deploy`` would be an unknown option.
    """
    warnings: list[CheckMessage] = []
    for name, extended in _COMMANDS.items():
        app_name = get_commands().get(name)
        if app_name in (None, "syzygy"):
            continue
        if isinstance(load_command_class(app_name, name), import_string(extended)):
            continue
        warnings.append(
            Warning(
                f"The {name} command is the one of {app_name}, which doesn't "
                f"extend syzygy's: `{name}` runs without syzygy.",
                hint=(
                    f"Put 'syzygy' before '{app_name}' in INSTALLED_APPS, or, to "
                    f"keep both, write a {name} command that combines them "
                    f"(syzygy's is {extended})."
                ),
                id="syzygy.W010",
            )
        )
    return warnings


# syzygy's commands, and the class another command must extend to keep it.
_COMMANDS = {
    "migrate": "syzygy.management.commands.migrate.Command",
    "makemigrations": (
        "syzygy.management.commands.makemigrations.StageAwareMakemigrationsMixin"
    ),
}


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Report every setting of syzygy's that has a wrong type or value
    (``syzygy.E003``), each in one line."""
    errors: list[CheckMessage] = []
    for validate in conf.SETTINGS_VALIDATORS:
        try:
            validate()
        except ImproperlyConfigured as exc:
            errors.append(
                Error(
                    str(exc),
                    hint="See syzygy's documentation of its settings.",
                    id="syzygy.E003",
                )
            )
    return errors


def check_stage_setting_keys(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report keys of the stage settings that name nothing (``syzygy.W001``).

    A misspelt app label or migration name would otherwise be ignored.
    """
    try:
        config = conf.stage_config()
    except ImproperlyConfigured:
        return []  # syzygy.E003 reports it.
    installed = {app_config.label for app_config in apps.get_app_configs()}
    checked = (
        installed
        if app_configs is None
        else {app_config.label for app_config in app_configs}
    )
    keys = [
        *(("MIGRATION_STAGES_OVERRIDE", key) for key in config.override),
        *(("MIGRATION_STAGES_FALLBACK", key) for key in config.fallback),
        *(
            ("SYZYGY_STAGE_BASELINE", f"{app_label}.{name}")
            for app_label, name in config.baseline.items()
        ),
    ]
    warnings: list[CheckMessage] = []
    for setting, key in keys:
        app_label, _, name = key.partition(".")
        if app_label not in installed:
            problem = f"no installed app has the label {app_label!r}"
        elif app_label not in checked:
            continue
        elif name and name not in _migration_names(apps.get_app_config(app_label)):
            problem = f"app {app_label!r} has no migration named {name!r}"
        else:
            continue
        where = (
            f"{setting}[{app_label!r}] is {name!r}"
            if setting == "SYZYGY_STAGE_BASELINE"
            else f"{setting} has the key {key!r}"
        )
        warnings.append(
            Warning(
                f"{where}, but {problem}.",
                hint=(
                    "Migrations are named by the app label and the full name of "
                    "the migration file without '.py'."
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
    return set(_module_paths(module.__path__))


def _disk_migrations(
    app_config: AppConfig, *, screened: bool = False
) -> Iterator[Migration]:
    """Yield the migrations of an app as its migrations package holds them.

    With ``screened``, leave out the migrations whose source shows that they
    only use Django's own pre-deploy operations (see ``_plainly_pre_deploy``):
    importing every migration is most of what the check costs. Broken
    packages are left for Django's loader to report.
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
    for name, path in sorted(_module_paths(module.__path__).items()):
        full_name = f"{module_name}.{name}"
        if screened and full_name not in sys.modules and _plainly_pre_deploy(path):
            continue
        try:
            migration_class = import_module(full_name).Migration
        except (ImportError, AttributeError):
            continue
        yield migration_class(name, app_config.label)


# A line that imports from Django's modules (or __future__) alone.
_DJANGO_IMPORT = re.compile(
    rb"[ \t]*(?:from[ \t]+(?:django(?:\.\w+)*|__future__)[ \t]+import\b[^;]*"
    rb"|import[ \t]+django(?:\.\w+)*(?:[ \t]+as[ \t]+\w+)?[ \t]*)"
)
# What the source of a migration that isn't plainly pre-deploy holds.
_STAGE_WORDS = (b"RemoveField", b"DeleteModel", b"stage", b"Stage")


def _plainly_pre_deploy(path: str) -> bool:
    """Return whether the source of a migration shows, without running it,
    that all its operations are pre-deploy: it imports nothing but Django,
    whose operations are pre-deploy but ``RemoveField`` and ``DeleteModel``,
    which it doesn't name, and it sets no stage.

    A line with "import" that isn't such an import, even a comment or a
    string, tells nothing: the migration has to be imported.
    """
    try:
        with open(path, "rb") as file:
            source = file.read()
    except OSError:
        return False
    if any(word in source for word in _STAGE_WORDS):
        return False
    index = source.find(b"import")
    while index != -1:
        start = source.rfind(b"\n", 0, index) + 1
        end = source.find(b"\n", index)
        if not _DJANGO_IMPORT.fullmatch(source, start, len(source) if end < 0 else end):
            return False
        index = source.find(b"import", index + 1)
    return True


def _module_paths(paths: Iterable[str]) -> dict[str, str]:
    """Return the Python modules of a package's directories, by name.

    Like Django's loader, skip names starting with ``_`` or ``~``; scanning
    the directories is much cheaper than ``pkgutil.iter_modules``.
    """
    modules = {}
    for path in paths:
        with os.scandir(path) as entries:
            for entry in entries:
                name, extension = os.path.splitext(entry.name)
                if extension == ".py" and name[0] not in "_~" and entry.is_file():
                    modules[name] = entry.path
    return modules
