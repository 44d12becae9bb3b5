from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.commands import migrate as django_migrate
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from syzygy import Stage
from syzygy.executor import StageAwareMigrationExecutor, deploy_stage
from tests.migrations_scenarios import threads

ALL_MIGRATIONS = {"0001_initial", "0002_rendezvous", "0003_remove_author_bio"}


def applied(alias: str) -> set[str]:
    recorder = MigrationRecorder(connections[alias])
    return {
        name
        for app_label, name in recorder.applied_migrations()
        if app_label == "alpha"
    }


def test_deploy_stage_restores_exactly_the_executor_it_replaced() -> None:
    assert django_migrate.MigrationExecutor is MigrationExecutor
    with deploy_stage(Stage.PRE_DEPLOY):
        assert django_migrate.MigrationExecutor is StageAwareMigrationExecutor
        with deploy_stage(Stage.POST_DEPLOY):
            assert django_migrate.MigrationExecutor is StageAwareMigrationExecutor
        assert django_migrate.MigrationExecutor is StageAwareMigrationExecutor
    assert django_migrate.MigrationExecutor is MigrationExecutor


def test_deploy_stage_keeps_a_stage_aware_executor_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OtherExecutor(StageAwareMigrationExecutor):
        pass

    monkeypatch.setattr(django_migrate, "MigrationExecutor", OtherExecutor)
    with deploy_stage(Stage.PRE_DEPLOY):
        assert django_migrate.MigrationExecutor is OtherExecutor
    assert django_migrate.MigrationExecutor is OtherExecutor


def test_deploy_stage_keeps_an_executor_installed_by_another_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OtherExecutor(MigrationExecutor):
        pass

    monkeypatch.setattr(django_migrate, "MigrationExecutor", OtherExecutor)
    with deploy_stage(Stage.PRE_DEPLOY):
        installed = django_migrate.MigrationExecutor
        assert issubclass(installed, StageAwareMigrationExecutor)
        assert issubclass(installed, OtherExecutor)
    assert django_migrate.MigrationExecutor is OtherExecutor


def test_deploy_stage_restores_the_executor_when_the_run_fails() -> None:
    with pytest.raises(RuntimeError), deploy_stage(Stage.PRE_DEPLOY):
        raise RuntimeError
    assert django_migrate.MigrationExecutor is MigrationExecutor


def run_migrate(
    alias: str, errors: list[BaseException], *args: Any, **options: Any
) -> None:
    try:
        call_command(*args, database=alias, verbosity=0, **options)
    except BaseException as exc:  # reported by the test
        errors.append(exc)
        if threads.rendezvous is not None:
            threads.rendezvous.abort()
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True, databases=["default", "second", "third"])
@pytest.mark.parametrize("plain", ["syzygy", "django"])
def test_concurrent_pre_deploy_runs_do_not_leak_their_stage(
    use_scenario: Callable[[str], None], plain: str
) -> None:
    use_scenario("threads")
    # Django's own command class sees the swapped executor but no stage.
    plain_command = "migrate" if plain == "syzygy" else django_migrate.Command()
    errors: list[BaseException] = []
    threads.rendezvous = threading.Barrier(3, timeout=60)
    runs = [
        threading.Thread(
            target=run_migrate,
            args=("default", errors, "migrate", "alpha"),
            kwargs={"pre_deploy": True},
        ),
        threading.Thread(
            target=run_migrate, args=("second", errors, plain_command, "alpha")
        ),
        threading.Thread(
            target=run_migrate,
            args=("third", errors, "migrate", "alpha"),
            kwargs={"pre_deploy": True},
        ),
    ]
    try:
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=120)
    finally:
        threads.rendezvous = None
    assert errors == []
    assert applied("default") == {"0001_initial", "0002_rendezvous"}
    assert applied("second") == ALL_MIGRATIONS
    assert applied("third") == {"0001_initial", "0002_rendezvous"}
    assert django_migrate.MigrationExecutor is MigrationExecutor
