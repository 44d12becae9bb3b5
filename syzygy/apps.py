from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class SyzygyConfig(AppConfig):
    name = "syzygy"
    verbose_name = "syzygy"

    def ready(self) -> None:
        from . import conf
        from .checks import check_migration_stages, check_stage_setting_keys
        from .lint import check_unsafe_operations

        # Fail at start-up on a misconfigured project rather than mid-deploy.
        conf.stage_config()
        conf.lock_policy()
        conf.lint_config()
        # The "migrations" tag is the one django-syzygy 1.x used.
        checks.register(check_migration_stages, checks.Tags.database, "migrations")
        checks.register(check_stage_setting_keys, "migrations")
        checks.register(check_unsafe_operations, checks.Tags.database, "migrations")
