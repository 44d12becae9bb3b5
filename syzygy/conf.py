"""Typed, validated accessors over the settings syzygy reads.

Settings are read at call time, so ``override_settings`` just works, and the
user's objects are never modified.
"""

from __future__ import annotations

import re
import site
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .constants import Stage

__all__ = ("StageConfig", "is_third_party_app", "stage_config")

_KEY_PATTERN = re.compile(r"\w+(\.\w+)?")
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
    )


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
    if value not in {"continue", "abort"}:
        raise ImproperlyConfigured(
            f"{setting} is {value!r}; accepted values are 'continue' and 'abort'."
        )
    return str(value)
