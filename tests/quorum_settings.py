"""Settings of the ``migrate --quorum`` parties that tests run as processes.

Read from the environment:

``SYZYGY_QUORUM_TEST_DATABASE``
   ``sqlite`` or ``postgresql``, the engine of the database the parties share;
``SYZYGY_QUORUM_TEST_NAME``
   its name: the path of the SQLite file, or the PostgreSQL database (on the
   server that ``PGHOST``, ``PGPORT``, ``PGUSER`` and ``PGPASSWORD`` name);
``SYZYGY_QUORUM_TEST_BACKEND``
   ``redis`` (a ``CacheQuorum`` on django-redis at ``REDIS_URL``) or
   ``postgresql`` (a ``PostgreSQLQuorum`` on the shared database);
``SYZYGY_QUORUM_TEST_MIGRATIONS``
   the module of the migrations of the ``alpha`` app;
``SYZYGY_QUORUM_TEST_BETA_MIGRATIONS``
   if set, that of the ``beta`` app, then installed too;
``SYZYGY_QUORUM_TEST_KEY_PREFIX``
   the prefix of the Redis keys, unique to a test.
"""

from __future__ import annotations

import os

SECRET_KEY = "syzygy-quorum-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = ["syzygy", "tests.alpha"]
MIGRATION_MODULES = {"alpha": os.environ["SYZYGY_QUORUM_TEST_MIGRATIONS"]}
if os.environ.get("SYZYGY_QUORUM_TEST_BETA_MIGRATIONS"):
    INSTALLED_APPS.append("tests.beta")
    MIGRATION_MODULES["beta"] = os.environ["SYZYGY_QUORUM_TEST_BETA_MIGRATIONS"]

if os.environ["SYZYGY_QUORUM_TEST_DATABASE"] == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["SYZYGY_QUORUM_TEST_NAME"],
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["SYZYGY_QUORUM_TEST_NAME"],
            # Parties wait for each other's short transactions.
            "OPTIONS": {"timeout": 30},
        }
    }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "quorum": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Keeps apart the tests that run at the same time on one Redis.
        "KEY_PREFIX": os.environ.get("SYZYGY_QUORUM_TEST_KEY_PREFIX", ""),
    },
}

if os.environ["SYZYGY_QUORUM_TEST_BACKEND"] == "postgresql":
    MIGRATION_QUORUM_BACKEND = "syzygy.quorum.backends.postgresql.PostgreSQLQuorum"
else:
    MIGRATION_QUORUM_BACKEND = {
        "backend": "syzygy.quorum.backends.cache.CacheQuorum",
        "alias": "quorum",
    }
