"""Settings of the test suite.

SQLite by default; ``SYZYGY_TEST_DATABASE=postgresql`` selects PostgreSQL
(``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` override the loopback
defaults; ``SYZYGY_TEST_DATABASE_PREFIX`` renames the databases, so that two
checkouts can run their suites at once). ``REDIS_URL`` adds a Redis cache
alias named ``redis``.
"""

from __future__ import annotations

import os

SECRET_KEY = "syzygy-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "syzygy",
    "tests.alpha",
    "tests.beta",
]

# The test apps have no models of their own: each test picks the migrations
# of a scenario under tests/migrations_scenarios/.
MIGRATION_MODULES = {"alpha": None, "beta": None}

DATABASE = os.environ.get("SYZYGY_TEST_DATABASE", "sqlite")
# Each test of concurrent runs migrates its own database.
ALIASES = ("default", "second", "third")
PREFIX = os.environ.get("SYZYGY_TEST_DATABASE_PREFIX", "syzygy")

if DATABASE == "postgresql":
    DATABASES = {
        alias: {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"{PREFIX}_{alias}",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
        }
        for alias in ALIASES
    }
elif DATABASE == "sqlite":
    DATABASES = {
        alias: {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": f"{PREFIX}_{alias}.sqlite3",
        }
        for alias in ALIASES
    }
else:
    raise RuntimeError(
        f"SYZYGY_TEST_DATABASE is {DATABASE!r}; accepted values are 'sqlite' "
        "and 'postgresql'."
    )

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES["redis"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
    }
