"""One party of ``benchmarks/quorum.py``: ``migrate --quorum`` in a process.

The party sets Django up, prints ``ready`` and waits for a line on its
standard input, so that the benchmark can start every party at once without
timing interpreter start-ups. It then runs ``migrate <app> --quorum N`` and
prints every line of the command's output prefixed with the wall-clock time
at which it was written, and the moment it starts recording the outcome if
it applies the plan. Its exit status is the command's.

Read from the environment: ``QUORUM_BENCH_DIRECTORY`` (where the app
package lives), ``QUORUM_BENCH_APP``, ``QUORUM_BENCH_DATABASE`` (``sqlite`` or
``postgresql``), ``QUORUM_BENCH_DATABASE_NAME``, ``QUORUM_BENCH_BACKEND``
(``redis`` or ``postgresql``), ``REDIS_URL`` and the ``PG*`` variables.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError


class Timestamped:
    """A stream that prefixes each line with the time it was written."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        now = time.time()
        for line in text.splitlines():
            self.stream.write(f"{now:.6f} {line}\n")
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def configure() -> None:
    sys.path.insert(0, os.environ["QUORUM_BENCH_DIRECTORY"])
    if os.environ["QUORUM_BENCH_DATABASE"] == "postgresql":
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["QUORUM_BENCH_DATABASE_NAME"],
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
        }
    else:
        database = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["QUORUM_BENCH_DATABASE_NAME"],
            "OPTIONS": {"timeout": 60},
        }
    if os.environ["QUORUM_BENCH_BACKEND"] == "postgresql":
        backend: Any = "syzygy.quorum.backends.postgresql.PostgreSQLQuorum"
    else:
        backend = {"backend": "syzygy.quorum.backends.cache.CacheQuorum"}
    settings.configure(
        INSTALLED_APPS=["syzygy", os.environ["QUORUM_BENCH_APP"]],
        DATABASES={"default": database},
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                "KEY_PREFIX": os.environ["QUORUM_BENCH_APP"],
            }
        },
        MIGRATION_QUORUM_BACKEND=backend,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def note_publications(output: Timestamped) -> None:
    """Print when the applying party starts recording the outcome."""
    from syzygy.quorum.backends.base import Outcome, Party
    from syzygy.quorum.backends.cache import CacheParty
    from syzygy.quorum.backends.postgresql import PostgreSQLParty

    def noted(publish: Any) -> Any:
        def publish_noted(party: Party, outcome: Outcome) -> Outcome:
            output.write(f"recording the outcome: {outcome.value}\n")
            recorded: Outcome = publish(party, outcome)
            return recorded

        return publish_noted

    for party_class in (CacheParty, PostgreSQLParty):
        party_class._publish = noted(party_class._publish)  # type: ignore[method-assign]


def main() -> int:
    parties = sys.argv[1]
    configure()
    print("ready", flush=True)
    output = Timestamped(sys.stdout)
    note_publications(output)
    sys.stdin.readline()
    try:
        call_command(
            "migrate",
            os.environ["QUORUM_BENCH_APP"],
            "--quorum",
            parties,
            stdout=output,
            stderr=output,
            no_color=True,
        )
    except CommandError as exc:
        output.write(f"CommandError: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
