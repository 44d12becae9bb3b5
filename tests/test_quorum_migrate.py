"""``migrate --quorum``, with its parties on threads of this process.

``test_quorum_processes`` runs parties as processes, on Redis and
PostgreSQL; these tests cover the command's every path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.migrations import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.quorum import plan_namespace
from syzygy.quorum.backends import cache
from syzygy.quorum.backends.base import Outcome

from . import quorum_steps
from .quorum_support import (
    FAST_LIVENESS,
    THREAD_QUORUM,
    closed_port,
    redis_caches,
    require_postgresql,
)

Scenario = Callable[[str], None]
CACHE_QUORUM = "syzygy.quorum.backends.cache.CacheQuorum"
REMOTE_FAILURE = "Error encountered by remote party while applying migration, aborting."
ALL_STEPS = ["0002_first_step", "0003_second_step"]
PATIENCE = 60.0
LIVENESS_TIMEOUT = FAST_LIVENESS["SYZYGY_QUORUM_LIVENESS_TIMEOUT"]


@pytest.fixture
def quorum_scenario(use_scenario: Scenario) -> Iterator[None]:
    use_scenario("quorum")
    with override_settings(MIGRATION_QUORUM_BACKEND=THREAD_QUORUM):
        yield
    quorum_steps.hook = None


def migrate(*args: str, **options: Any) -> str:
    """Run ``migrate`` and return what it wrote to stdout and stderr."""
    output = StringIO()
    call_command(
        "migrate", *args, stdout=output, stderr=output, no_color=True, **options
    )
    return output.getvalue()


def run_parties(count: int, *args: str, **options: Any) -> list[Any]:
    """Run ``migrate`` as ``count`` parties on threads; return outputs or errors."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = migrate(*args, **options)
        except BaseException as exc:  # reported by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
        assert not thread.is_alive()
    return results


def applied() -> list[str]:
    recorder = MigrationRecorder(connection)
    return sorted(name for app, name in recorder.applied_migrations() if app == "alpha")


def steps_run() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT migration FROM alpha_applylog ORDER BY migration")
        return [migration for (migration,) in cursor.fetchall()]


def appliers(results: list[Any]) -> list[str]:
    return [
        result
        for result in results
        if isinstance(result, str) and "this party applies the plan." in result
    ]


@pytest.mark.usefixtures("quorum_scenario")
def test_parties_apply_the_plan_exactly_once() -> None:
    results = run_parties(3, "alpha", quorum=3)
    (applier,) = appliers(results)
    assert "Plan applied in " in applier
    assert "Applying alpha.0002_first_step... OK" in applier
    waiting = [result for result in results if result is not applier]
    for output in waiting:
        assert "waiting for all 3 parties to join..." in output
        assert "Migrations applied by remote party " in output
        assert "Applying" not in output
    namespace = applier.split("'")[1]
    assert namespace.startswith("post-deploy:default:")
    assert all(namespace in output for output in results)
    assert applied() == [
        "0001_initial",
        "0002_first_step",
        "0003_second_step",
        "0004_remove_applylog_note",
    ]
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_pre_deploy_parties_meet_on_the_trimmed_plan() -> None:
    migrate("alpha", "0001")
    results = run_parties(2, "alpha", quorum=2, pre_deploy=True)
    trimmed_plan = [
        (Migration("0002_first_step", "alpha"), False),
        (Migration("0003_second_step", "alpha"), False),
    ]
    namespace = plan_namespace(Stage.PRE_DEPLOY, "default", trimmed_plan)
    for output in results:
        assert f"Joined quorum {namespace!r}" in output
        assert (
            "Postponed until after the deploy:\n  alpha.0004_remove_applylog_note"
            in (output)
        )
    assert applied() == ["0001_initial", "0002_first_step", "0003_second_step"]
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_waiting_parties_fail_when_the_applying_party_fails() -> None:
    def fail(name: str) -> None:
        if name == "0003_second_step":
            raise RuntimeError("0003_second_step fails on purpose")

    quorum_steps.hook = fail
    results = run_parties(3, "alpha", quorum=3)
    assert sorted(type(result).__name__ for result in results) == [
        "CommandError",
        "CommandError",
        "RuntimeError",
    ]
    for result in results:
        if isinstance(result, CommandError):
            assert str(result) == REMOTE_FAILURE
    # The atomic migration that failed was rolled back.
    assert applied() == ["0001_initial", "0002_first_step"]
    assert steps_run() == ["0002_first_step"]
    # Run again, the parties apply the rest.
    quorum_steps.hook = None
    results = run_parties(3, "alpha", quorum=3)
    assert len(appliers(results)) == 1
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_waiting_parties_give_a_lost_applying_party_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The applying party hangs in its first step, and doesn't heartbeat.
    monkeypatch.setattr(cache.CacheParty, "_beat", lambda party: None)
    quorum_steps.hook = lambda name: time.sleep(3 * LIVENESS_TIMEOUT)
    with override_settings(**FAST_LIVENESS):
        results = run_parties(3, "alpha", quorum=3)
    (applier,) = appliers(results)
    assert "The other parties gave this one up as lost before it finished" in applier
    errors = sorted(str(result) for result in results if result is not applier)
    # The first to give the applying party up says why; the other learns it.
    assert errors[0].endswith(
        "was given up as lost. Aborting; run the command again to retry."
    )
    assert errors[1].endswith(
        "was lost: no heartbeat for 0.5s. Aborting; run the command again to retry."
    )
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_a_party_alone_times_out_saying_how_many_joined() -> None:
    with pytest.raises(CommandError) as raised:
        migrate("alpha", quorum=2, quorum_timeout=0.2)
    message = str(raised.value)
    assert message.startswith(
        "Migration plan quorum timeout. Timed out after 0.2s waiting for quorum "
        "'post-deploy:"
    )
    assert message.endswith("': 1 of 2 parties had joined.")
    assert applied() == []


@pytest.mark.usefixtures("quorum_scenario")
def test_an_empty_plan_needs_no_quorum() -> None:
    migrate("alpha")
    output = migrate("alpha", quorum=3, quorum_timeout=0)
    assert "No migrations to apply." in output
    assert "quorum" not in output


@pytest.mark.usefixtures("quorum_scenario")
def test_plan_check_and_prune_need_no_quorum() -> None:
    output = migrate("alpha", quorum=3, quorum_timeout=0, plan=True)
    assert output.startswith("Planned operations:\n")
    with pytest.raises(SystemExit):
        migrate("alpha", quorum=3, quorum_timeout=0, check_unapplied=True)
    output = migrate("alpha", quorum=3, quorum_timeout=0, prune=True)
    assert "No migrations to prune." in output
    assert applied() == []


@pytest.mark.usefixtures("quorum_scenario")
def test_parties_say_nothing_at_verbosity_zero() -> None:
    assert run_parties(2, "alpha", quorum=2, verbosity=0) == ["", ""]
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_quorum_of_one_applies_alone() -> None:
    output = migrate("alpha", quorum=1, quorum_timeout=0)
    assert "quorum" not in output
    assert steps_run() == ALL_STEPS


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (
            (),
            {"quorum": 0},
            "--quorum must be a whole number of parties, at least 1, not 0.",
        ),
        (
            (),
            {"quorum": "2"},
            "--quorum must be a whole number of parties, at least 1, not '2'.",
        ),
        (
            ("--quorum", "two"),
            {},
            "Error: argument --quorum: must be a whole number of parties, at least 1, "
            "not 'two'",
        ),
        (
            ("--quorum", "-1"),
            {},
            "--quorum must be a whole number of parties, at least 1, not -1.",
        ),
        (
            ("--quorum", "2", "--quorum-timeout", "-5"),
            {},
            "--quorum-timeout must be a number of seconds, at least 0, not -5.0.",
        ),
        (
            ("--quorum-timeout", "soon"),
            {},
            "Error: argument --quorum-timeout: must be a number of seconds, at least "
            "0, not 'soon'",
        ),
        (
            (),
            {"quorum_timeout": None},
            "--quorum-timeout must be a number of seconds, at least 0, not None.",
        ),
    ],
)
def test_invalid_quorum_options_are_command_errors(
    args: tuple[str, ...], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(CommandError) as raised:
        migrate(*args, **options)
    assert str(raised.value) == message


@pytest.mark.usefixtures("quorum_scenario")
def test_a_misconfigured_backend_fails_before_anything_is_applied() -> None:
    with (
        override_settings(
            MIGRATION_QUORUM_BACKEND={"backend": CACHE_QUORUM, "alias": "x"}
        ),
        pytest.raises(CommandError, match=r"^--quorum 2: CacheQuorum's alias is 'x'"),
    ):
        migrate("alpha", quorum=2)
    assert applied() == []


@pytest.mark.usefixtures("quorum_scenario")
def test_an_unavailable_cache_fails_in_one_line_before_anything_is_applied() -> None:
    with (
        override_settings(
            CACHES=redis_caches(f"redis://127.0.0.1:{closed_port()}/0"),
            MIGRATION_QUORUM_BACKEND={"backend": CACHE_QUORUM, "alias": "quorum"},
        ),
        pytest.raises(CommandError) as raised,
    ):
        migrate("alpha", quorum=2)
    assert str(raised.value).startswith(
        "The cache 'quorum' of the quorum (django_redis.cache.RedisCache) is "
        "unavailable: "
    )
    assert applied() == []


@pytest.mark.usefixtures("quorum_scenario")
def test_backends_of_the_1x_protocol_coordinate_without_heartbeats() -> None:
    with override_settings(
        MIGRATION_QUORUM_BACKEND="tests.quorum_support.LegacyQuorum"
    ):
        results = run_parties(3, "alpha", quorum=3)
        (applier,) = appliers(results)
        assert "as party 3 of 3." in applier
        for output in results:
            if output is not applier:
                assert "; waiting for all 3 parties to join..." in output
                assert "waiting for a remote party to apply the plan..." in output
        assert steps_run() == ALL_STEPS
        migrate("alpha", "0001")

        quorum_steps.hook = lambda name: 1 / 0
        results = run_parties(2, "alpha", quorum=2)
        assert sorted(type(result).__name__ for result in results) == [
            "CommandError",
            "ZeroDivisionError",
        ]
        quorum_steps.hook = None

        with pytest.raises(CommandError) as raised:
            migrate("alpha", quorum=2, quorum_timeout=0.1)
        assert str(raised.value).startswith(
            "Migration plan quorum timeout. Timed out after 0.1s waiting for 2 "
            "parties of quorum 'post-deploy:"
        )
    # The 1.x protocol leaves the keys of a party that timed out behind.
    caches["default"].clear()


@pytest.mark.usefixtures("quorum_scenario")
def test_parties_apply_the_plan_exactly_once_on_postgresql() -> None:
    require_postgresql()
    with override_settings(
        MIGRATION_QUORUM_BACKEND="syzygy.quorum.backends.postgresql.PostgreSQLQuorum"
    ):
        results = run_parties(3, "alpha", quorum=3)
    assert len(appliers(results)) == 1
    assert all(isinstance(result, str) for result in results)
    assert steps_run() == ALL_STEPS


@pytest.mark.usefixtures("quorum_scenario")
def test_an_applying_party_that_cannot_publish_says_the_plan_was_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publish = cache.CacheParty._publish

    def unpublishable(party: cache.CacheParty, outcome: Outcome) -> Outcome:
        if outcome is Outcome.APPLIED:
            raise party.backend.unavailable("Connection refused")
        return publish(party, outcome)

    monkeypatch.setattr(cache.CacheParty, "_publish", unpublishable)
    results = run_parties(2, "alpha", quorum=2)
    messages = sorted(str(result) for result in results)
    assert messages == [
        REMOTE_FAILURE,
        "The plan was applied, but the other parties can't learn it: The cache "
        "'default' of the quorum (django.core.cache.backends.locmem.LocMemCache) "
        "is unavailable: Connection refused",
    ]
    assert steps_run() == ALL_STEPS
