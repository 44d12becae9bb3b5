"""Run ``makemigrations`` on a case of ``tests/makemigrations_cases/``.

A case is an app whose ``models.py`` holds the new models and whose
``migrations_before/`` holds the migrations of the old ones. The harness
copies those migrations into a fresh package, installs the app with that
package as its migrations module, and runs the real commands.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import BaseCommand, call_command
from django.db import connection
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

CASES = Path(__file__).parent / "makemigrations_cases"


@dataclass
class Outcome:
    """What a command printed, and its exit status."""

    status: int
    stdout: str
    stderr: str


@dataclass
class Case:
    label: str
    directory: Path
    module: str
    answers: list[str] = field(default_factory=list)

    def makemigrations(
        self,
        *args: str,
        interactive: bool = False,
        command: BaseCommand | str = "makemigrations",
        **options: Any,
    ) -> Outcome:
        """Run ``makemigrations`` on the case's app, answering from ``answers``."""
        stdout, stderr = StringIO(), StringIO()
        status = 0
        answers = iter(self.answers)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("builtins.input", lambda *prompt: next(answers))
            try:
                call_command(
                    command,
                    self.label,
                    *args,
                    interactive=interactive,
                    stdout=stdout,
                    stderr=stderr,
                    no_color=True,
                    **options,
                )
            except SystemExit as exited:
                status = int(exited.code or 0)
        return Outcome(status, stdout.getvalue(), stderr.getvalue())

    def migrate(self, *args: str, **options: Any) -> str:
        stdout = StringIO()
        call_command(
            "migrate", self.label, *args, stdout=stdout, no_color=True, **options
        )
        return stdout.getvalue()

    def written(self) -> list[str]:
        """Return the names of the migrations written next to the old ones."""
        return sorted(
            path.stem
            for path in self.directory.glob("[0-9]*.py")
            if not path.stem.startswith("0001_")
        )

    def migration(self, name: str) -> Migration:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        return loader.disk_migrations[self.label, name]

    def source(self, name: str) -> str:
        return (self.directory / f"{name}.py").read_text()

    def applied(self) -> list[str]:
        recorder = MigrationRecorder(connection)
        return sorted(
            name for app, name in recorder.applied_migrations() if app == self.label
        )

    def old_models(self, *model_names: str) -> list[Any]:
        """Return models as the initial migration, the old code, has them."""
        state = MigrationLoader(None).project_state((self.label, "0001_initial"))
        return [state.apps.get_model(self.label, name) for name in model_names]

    def new_model(self, model_name: str) -> Any:
        return apps.get_model(self.label, model_name)


@contextmanager
def makemigrations_case(
    label: str, root: Path, cases: str = "tests.makemigrations_cases"
) -> Iterator[Case]:
    """Install the case app ``<cases>.<label>`` with a fresh copy of its old
    migrations."""
    package = f"syzygy_case_{uuid.uuid4().hex[:8]}"
    directory = root / package / "migrations"
    cases_directory = Path(CASES.parent.parent, *cases.split("."))
    shutil.copytree(cases_directory / label / "migrations_before", directory)
    (root / package / "__init__.py").touch()
    sys.path.insert(0, str(root))
    case = Case(label, directory, f"{package}.migrations")
    try:
        with override_settings(
            INSTALLED_APPS=[*settings.INSTALLED_APPS, f"{cases}.{label}"],
            MIGRATION_MODULES={**settings.MIGRATION_MODULES, label: case.module},
        ):
            try:
                yield case
            finally:
                if case.applied():
                    call_command("migrate", label, "zero", verbosity=0)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith(package)]:
            del sys.modules[name]
