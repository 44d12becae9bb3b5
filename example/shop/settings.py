"""Settings of the example shop.

SQLite, at the path ``EXAMPLE_DATABASE`` names (``example/db.sqlite3`` by
default), and no app but syzygy and ``catalog``, to keep the output of the
deploy short.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "syzygy-example-not-secret"
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    # Replaces the migrate command with the stage-aware one.
    "syzygy",
    "catalog",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", BASE_DIR / "db.sqlite3"),
    }
}
