"""Typed, validated accessors over the settings syzygy reads.

Settings are read at call time, so ``override_settings`` just works, and the
user's objects are never modified.
"""

from __future__ import annotations

import math
import re
import site
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .constants import Stage

__all__ = (
    "StageConfig",
    "is_third_party_app",
    "stage_config",
    "validate_settings",
)

_KEY_PATTERN = re.compile(r"\w+(\.\w+)?")
_NAME_PATTERN = re.compile(r"\w+")
_ACCEPTED_STAGES = (
    "syzygy.Stage.PRE_DEPLOY or syzygy.Stage.POST_DEPLOY "
    "(or the strings 'PRE_DEPLOY' and 'POST_DEPLOY')"
)


@dataclass(frozen=True)
class StageConfig:
    """The stage settings of a project, validated."""

    override: Mapping[str, Stage]
    fallback: Mapping[str, Stage]
    third_party_fallback: Stage | None
    third_party_apps: frozenset[str]
    baseline: Mapping[str, str] = field(default_factory=dict)

    def overridden(self, app_label: str, name: str) -> Stage | None:
        """Return the stage ``MIGRATION_STAGES_OVERRIDE`` forces, if any."""
        return _lookup(self.override, app_label, name)

    def fallen_back(self, app_label: str, name: str) -> Stage | None:
        """Return the stage ``MIGRATION_STAGES_FALLBACK`` gives, if any."""
        return _lookup(self.fallback, app_label, name)


def _lookup(stages: Mapping[str, Stage], app_label: str, name: str) -> Stage | None:
    return stages.get(f"{app_label}.{name}") or stages.get(app_label)


def as_stage(value: Any, *, setting: str, key: str | None = None) -> Stage:
    """Return ``value`` as a ``Stage`` or raise naming where it came from."""
    if isinstance(value, Stage):
        return value
    if isinstance(value, str) and value in Stage.__members__:
        return Stage[value]
    where = setting if key is None else f"{setting}[{key!r}]"
    raise ImproperlyConfigured(
        f"{where} is {value!r}, which is not a stage; accepted values are "
        f"{_ACCEPTED_STAGES}."
    )


def _stages_setting(setting: str) -> dict[str, Stage]:
    value = getattr(settings, setting, {})
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"{setting} must be a dict mapping 'app_label' or "
            f"'app_label.migration_name' to a stage, not {type(value).__name__}."
        )
    stages = {}
    for key, stage in value.items():
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            raise ImproperlyConfigured(
                f"{setting} has the key {key!r}; keys must be 'app_label' or "
                f"'app_label.migration_name'."
            )
        stages[key] = as_stage(stage, setting=setting, key=key)
    return stages


def stage_config() -> StageConfig:
    """Return the validated stage settings of the project."""
    setting = "MIGRATION_THIRD_PARTY_STAGES_FALLBACK"
    third_party_fallback = getattr(settings, setting, Stage.PRE_DEPLOY)
    if third_party_fallback is not None:
        third_party_fallback = as_stage(third_party_fallback, setting=setting)
    return StageConfig(
        override=_stages_setting("MIGRATION_STAGES_OVERRIDE"),
        fallback=_stages_setting("MIGRATION_STAGES_FALLBACK"),
        third_party_fallback=third_party_fallback,
        third_party_apps=frozenset(
            app_config.label
            for app_config in apps.get_app_configs()
            if is_third_party_app(app_config)
        ),
        baseline=_baseline_setting(),
    )


def _baseline_setting() -> dict[str, str]:
    setting = "SYZYGY_STAGE_BASELINE"
    value = getattr(settings, setting, {})
    accepted = (
        "a dict mapping app labels to the name of a migration of the app, as "
        "`manage.py stagebaseline` prints it"
    )
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"{setting} must be {accepted}, not {type(value).__name__}."
        )
    for app_label, name in value.items():
        if not isinstance(app_label, str) or not _NAME_PATTERN.fullmatch(app_label):
            raise ImproperlyConfigured(
                f"{setting} has the key {app_label!r}; keys must be app labels."
            )
        if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
            raise ImproperlyConfigured(
                f"{setting}[{app_label!r}] is {name!r}; it must be the name of a "
                "migration of the app, such as '0042_alter_author_name'."
            )
    return dict(value)


@cache
def _site_packages() -> tuple[Path, ...]:
    directories = {*site.getsitepackages(), site.getusersitepackages()}
    directories.update(sysconfig.get_paths()[name] for name in ("purelib", "platlib"))
    return tuple(Path(directory).resolve() for directory in directories)


def is_third_party_app(app_config: AppConfig) -> bool:
    """Return whether the app is installed under a site-packages directory."""
    return _is_under_site_packages(app_config.path)


@cache
def _is_under_site_packages(path: str) -> bool:
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(directory) for directory in _site_packages())


def makemigrations_on_ambiguous() -> str:
    """Return what a non-interactive ``makemigrations`` does with changes that
    can't be split into one pre-deploy and one post-deploy migration."""
    setting = "SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS"
    value = getattr(settings, setting, "continue")
    if value not in ("continue", "abort"):
        raise ImproperlyConfigured(
            f"{setting} is {value!r}; accepted values are 'continue' and 'abort'."
        )
    return str(value)


@dataclass(frozen=True)
class QuorumLiveness:
    """How often the applying party of a quorum heartbeats, and how long the
    waiting parties wait for a heartbeat before they give it up as lost."""

    heartbeat_interval: float
    timeout: float


def positive_seconds(value: Any, name: str) -> float:
    """Return ``value`` as a finite, positive number of seconds.

    Raise ``ImproperlyConfigured`` naming ``name`` otherwise.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < math.inf
    ):
        raise ImproperlyConfigured(
            f"{name} is {value!r}; it must be a positive number of seconds."
        )
    return float(value)


def _positive_seconds(setting: str, default: float) -> float:
    return positive_seconds(getattr(settings, setting, default), setting)


def quorum_liveness() -> QuorumLiveness:
    """Return the validated heartbeat settings of ``migrate --quorum``."""
    interval = _positive_seconds("SYZYGY_QUORUM_HEARTBEAT_INTERVAL", 1.0)
    timeout = _positive_seconds("SYZYGY_QUORUM_LIVENESS_TIMEOUT", 5.0)
    if timeout < 2 * interval:
        raise ImproperlyConfigured(
            f"SYZYGY_QUORUM_LIVENESS_TIMEOUT is {timeout:g}; it must be at least "
            f"twice SYZYGY_QUORUM_HEARTBEAT_INTERVAL ({interval:g}), so that one "
            f"late heartbeat doesn't make the applying party look lost."
        )
    return QuorumLiveness(interval, timeout)


def quorum_backend_setting() -> tuple[str, dict[str, Any]]:
    """Return the import path and the options of ``MIGRATION_QUORUM_BACKEND``."""
    setting = "MIGRATION_QUORUM_BACKEND"
    accepted = (
        "an import path such as 'syzygy.quorum.backends.cache.CacheQuorum', or a "
        "dict with that path under 'backend' and the backend's options"
    )
    if not hasattr(settings, setting):
        raise ImproperlyConfigured(
            f"{setting} must be set to coordinate a quorum: {accepted}."
        )
    value = getattr(settings, setting)
    if isinstance(value, str):
        path, options = value, {}
    elif isinstance(value, Mapping):
        options = dict(value)
        path = options.pop("backend", None)
        if not isinstance(path, str):
            raise ImproperlyConfigured(
                f"{setting}['backend'] is {path!r}; it must be {accepted}."
            )
    else:
        raise ImproperlyConfigured(
            f"{setting} must be {accepted}, not {type(value).__name__}."
        )
    if not path:
        raise ImproperlyConfigured(
            f"{setting} names no backend; it must be {accepted}."
        )
    return path, options


@dataclass(frozen=True)
class LockPolicy:
    """How long a migration waits for locks on PostgreSQL, and how it retries."""

    lock_timeout: float | None
    statement_timeout: float | None
    retries: int
    retry_delay: float


# PostgreSQL takes timeouts in whole milliseconds, as 32-bit integers.
_MIN_SECONDS = 0.001
_MAX_SECONDS = (2**31 - 1) // 1000


def _seconds(setting: str, default: float | None, *, allow_none: bool) -> float | None:
    value = getattr(settings, setting, default)
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not _MIN_SECONDS <= value <= _MAX_SECONDS
    ):
        accepted = f"a number of seconds from {_MIN_SECONDS} to {_MAX_SECONDS}" + (
            " or None" if allow_none else ""
        )
        raise ImproperlyConfigured(
            f"{setting} is {value!r}; accepted values are {accepted}."
        )
    return float(value)


def lock_policy() -> LockPolicy:
    """Return the validated lock settings of the project."""
    retries = getattr(settings, "SYZYGY_LOCK_RETRIES", 30)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ImproperlyConfigured(
            f"SYZYGY_LOCK_RETRIES is {retries!r}; accepted values are whole numbers "
            "from 0."
        )
    retry_delay = _seconds("SYZYGY_LOCK_RETRY_DELAY", 0.5, allow_none=False)
    assert retry_delay is not None
    return LockPolicy(
        lock_timeout=_seconds("SYZYGY_LOCK_TIMEOUT", 0.2, allow_none=True),
        statement_timeout=_seconds("SYZYGY_STATEMENT_TIMEOUT", None, allow_none=True),
        retries=retries,
        retry_delay=retry_delay,
    )


@dataclass(frozen=True)
class LintConfig:
    """The settings of the lint of unapplied migrations, validated."""

    errors: bool
    exclude: frozenset[str]

    def excludes(self, app_label: str, name: str) -> bool:
        """Return whether ``SYZYGY_LINT_EXCLUDE`` keeps a migration from the lint."""
        return app_label in self.exclude or f"{app_label}.{name}" in self.exclude


def lint_config() -> LintConfig:
    """Return the validated settings of the lint of unapplied migrations."""
    errors = getattr(settings, "SYZYGY_LINT_ERRORS", False)
    if not isinstance(errors, bool):
        raise ImproperlyConfigured(
            f"SYZYGY_LINT_ERRORS is {errors!r}; accepted values are True and False."
        )
    setting = "SYZYGY_LINT_EXCLUDE"
    exclude = getattr(settings, setting, ())
    if not isinstance(exclude, (list, tuple, set, frozenset)):
        raise ImproperlyConfigured(
            f"{setting} must be a list, tuple or set of 'app_label' or "
            f"'app_label.migration_name' strings, not {type(exclude).__name__}."
        )
    for key in exclude:
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            raise ImproperlyConfigured(
                f"{setting} has the item {key!r}; items must be 'app_label' or "
                f"'app_label.migration_name'."
            )
    return LintConfig(errors=errors, exclude=frozenset(exclude))


def validate_settings() -> None:
    """Raise ``ImproperlyConfigured`` for the first of syzygy's settings that
    has a wrong type or value."""
    for validate in SETTINGS_VALIDATORS:
        validate()


# Each reads and validates some of syzygy's settings.
SETTINGS_VALIDATORS = (
    stage_config,
    lock_policy,
    lint_config,
    makemigrations_on_ambiguous,
    quorum_liveness,
)
