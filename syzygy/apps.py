from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class SyzygyConfig(AppConfig):
    name = "syzygy"
    verbose_name = "syzygy"

    def ready(self) -> None:
        from .checks import (
            check_commands,
            check_migration_stages,
            check_settings,
            check_stage_setting_keys,
        )
        from .lint import check_unsafe_operations

        # Settings are validated by a check, which reports a misconfigured
        # project in one line at start-up rather than in a traceback.
        checks.register(check_settings, "migrations")
        checks.register(check_commands, "migrations")
        # The "migrations" tag is the one django-syzygy 1.x used.
        checks.register(check_migration_stages, "migrations")
        checks.register(check_stage_setting_keys, "migrations")
        # Only the database tag: Django 6.0 and later run the checks of a tag
        # asked for (`check --tag migrations`) on every database.
        checks.register(check_unsafe_operations, checks.Tags.database)
