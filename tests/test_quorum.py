"""The public API of ``syzygy.quorum``, its configuration and its protocol."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.migrations import Migration
from django.test.utils import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from syzygy import Stage
from syzygy.conf import QuorumLiveness, quorum_liveness
from syzygy.quorum import (
    QuorumDisolved,
    QuorumDissolved,
    QuorumTimeout,
    get_quorum_backend,
    join_quorum,
    plan_namespace,
    poll_quorum,
    sever_quorum,
)
from syzygy.quorum.backends.base import LegacyParty, Outcome, Party
from syzygy.quorum.backends.cache import CacheParty, CacheQuorum
from syzygy.quorum.backends.postgresql import PostgreSQLQuorum
from syzygy.quorum.exceptions import QuorumDisolved as QuorumDisolvedFromExceptions
from syzygy.quorum.waiting import Heartbeat

from .quorum_support import THREAD_QUORUM, LegacyQuorum, ThreadQuorum

CACHE_QUORUM = "syzygy.quorum.backends.cache.CacheQuorum"
POSTGRESQL_QUORUM = "syzygy.quorum.backends.postgresql.PostgreSQLQuorum"
LIVENESS = QuorumLiveness(heartbeat_interval=0.05, timeout=0.5)


def unique(name: str = "namespace") -> str:
    return f"{name}-{uuid.uuid4().hex}"


@pytest.fixture
def cache_quorum() -> Iterator[None]:
    with override_settings(MIGRATION_QUORUM_BACKEND=THREAD_QUORUM):
        yield


def test_quorum_disolved_is_the_1x_spelling_of_quorum_dissolved() -> None:
    assert QuorumDisolved is QuorumDissolved
    assert QuorumDisolvedFromExceptions is QuorumDissolved


@pytest.mark.usefixtures("cache_quorum")
def test_join_returns_true_for_the_party_that_completes_the_quorum() -> None:
    namespace = unique()
    assert [join_quorum(namespace, 3) for _ in range(3)] == [False, False, True]
    assert poll_quorum(namespace, 3)
    assert poll_quorum(namespace, 3)


@pytest.mark.usefixtures("cache_quorum")
def test_poll_is_false_until_the_quorum_is_reached() -> None:
    namespace = unique()
    join_quorum(namespace, 2)
    assert not poll_quorum(namespace, 2)
    assert join_quorum(namespace, 2)
    assert poll_quorum(namespace, 2)


@pytest.mark.usefixtures("cache_quorum")
def test_the_last_poll_clears_the_namespace() -> None:
    namespace = unique()
    for _ in range(3):
        join_quorum(namespace, 3)
    poll_quorum(namespace, 3)
    poll_quorum(namespace, 3)
    # A new quorum can meet in the namespace.
    assert [join_quorum(namespace, 2) for _ in range(2)] == [False, True]


@pytest.mark.usefixtures("cache_quorum")
def test_sever_makes_polls_raise_quorum_dissolved() -> None:
    namespace = unique()
    join_quorum(namespace, 3)
    join_quorum(namespace, 3)
    sever_quorum(namespace, 3)
    with pytest.raises(QuorumDissolved):
        poll_quorum(namespace, 3)
    with pytest.raises(QuorumDissolved):
        poll_quorum(namespace, 3)


@pytest.mark.usefixtures("cache_quorum")
def test_sever_before_anyone_joined_dissolves_the_namespace() -> None:
    namespace = unique()
    sever_quorum(namespace, 2)
    assert not join_quorum(namespace, 2)
    with pytest.raises(QuorumDissolved):
        poll_quorum(namespace, 2)


@pytest.mark.usefixtures("cache_quorum")
def test_poll_of_an_unknown_namespace_raises_quorum_dissolved() -> None:
    with pytest.raises(QuorumDissolved):
        poll_quorum(unique(), 2)


@pytest.mark.usefixtures("cache_quorum")
def test_poll_keeps_waiting_when_more_parties_joined_than_the_quorum() -> None:
    namespace = unique()
    for _ in range(3):
        join_quorum(namespace, 2)
    assert not poll_quorum(namespace, 2)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            ["syzygy.quorum.backends.cache.CacheQuorum"],
            "MIGRATION_QUORUM_BACKEND must be an import path such as "
            "'syzygy.quorum.backends.cache.CacheQuorum', or a dict with that path "
            "under 'backend' and the backend's options, not list.",
        ),
        (
            {"alias": "default"},
            "MIGRATION_QUORUM_BACKEND['backend'] is None; it must be an import path",
        ),
        ({"backend": 42}, "MIGRATION_QUORUM_BACKEND['backend'] is 42;"),
        ("", "MIGRATION_QUORUM_BACKEND names no backend;"),
        (
            "syzygy.quorum.backends.nothing.Quorum",
            "MIGRATION_QUORUM_BACKEND names 'syzygy.quorum.backends.nothing.Quorum', "
            "which can't be imported:",
        ),
        (
            "syzygy.quorum.plan_namespace",
            "MIGRATION_QUORUM_BACKEND names 'syzygy.quorum.plan_namespace', which is "
            "not a subclass of syzygy.quorum.backends.base.QuorumBase.",
        ),
        (
            {"backend": CACHE_QUORUM, "location": "redis://"},
            "MIGRATION_QUORUM_BACKEND gives "
            "'syzygy.quorum.backends.cache.CacheQuorum' options it doesn't accept "
            "({'location': 'redis://'}):",
        ),
        (
            {"backend": CACHE_QUORUM, "alias": "elsewhere"},
            "CacheQuorum's alias is 'elsewhere', which is not in the CACHES "
            "setting; accepted values are 'default'",
        ),
        (
            {"backend": CACHE_QUORUM, "timeout": "1h"},
            "CacheQuorum's timeout is '1h'; it must be a positive number of seconds.",
        ),
        (
            {"backend": CACHE_QUORUM, "timeout": 0},
            "CacheQuorum's timeout is 0; it must be a positive number of seconds.",
        ),
        (
            {"backend": CACHE_QUORUM, "version": "2"},
            "CacheQuorum's version is '2'; it must be an integer or None.",
        ),
        (
            {"backend": POSTGRESQL_QUORUM, "alias": "elsewhere"},
            "PostgreSQLQuorum's alias is 'elsewhere', which is not in the DATABASES "
            "setting; accepted values are 'default', 'second', 'third'.",
        ),
        (
            {"backend": POSTGRESQL_QUORUM, "table": "public.quorum"},
            "PostgreSQLQuorum's table is 'public.quorum'; it must be a table name of "
            "letters, digits and underscores.",
        ),
        (
            {"backend": POSTGRESQL_QUORUM, "timeout": -1},
            "PostgreSQLQuorum's timeout is -1; it must be a positive number of "
            "seconds.",
        ),
    ],
)
def test_misconfigured_backend_raises_improperly_configured(
    setting: Any, message: str
) -> None:
    with (
        override_settings(MIGRATION_QUORUM_BACKEND=setting),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        join_quorum(unique(), 2)
    assert str(raised.value).startswith(message)


def test_missing_backend_setting_raises_improperly_configured() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^MIGRATION_QUORUM_BACKEND must be set"
    ):
        get_quorum_backend()


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_cache_quorum_refuses_caches_without_atomic_increments(backend: str) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "plain": {"BACKEND": backend, "LOCATION": "syzygy_quorum_plain"},
    }
    with (
        override_settings(CACHES=caches),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        CacheQuorum("plain")
    assert str(raised.value) == (
        f"CacheQuorum needs a cache that increments atomically, and the cache "
        f"'plain' ({backend}) doesn't; use Redis or memcached."
    )


def test_cache_quorum_refuses_a_local_memory_cache() -> None:
    """It can't coordinate processes: each has a cache of its own."""
    with pytest.raises(ImproperlyConfigured) as raised:
        CacheQuorum()
    assert str(raised.value) == (
        "CacheQuorum needs a cache that the parties share, and the cache 'default' "
        "(django.core.cache.backends.locmem.LocMemCache) keeps its keys in the "
        "memory of one process; use Redis or memcached."
    )
    assert ThreadQuorum().alias == "default"


def test_backend_options_come_from_the_dict_setting() -> None:
    with override_settings(
        MIGRATION_QUORUM_BACKEND={"backend": THREAD_QUORUM, "timeout": 60, "version": 2}
    ):
        backend = get_quorum_backend()
    assert isinstance(backend, CacheQuorum)
    assert (backend.alias, backend.timeout, backend.version) == ("default", 60, 2)


def test_liveness_defaults_detect_a_lost_applier_within_ten_seconds() -> None:
    liveness = quorum_liveness()
    assert liveness == QuorumLiveness(heartbeat_interval=1.0, timeout=5.0)
    assert liveness.timeout + liveness.heartbeat_interval <= 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"SYZYGY_QUORUM_HEARTBEAT_INTERVAL": "1s"},
            "SYZYGY_QUORUM_HEARTBEAT_INTERVAL is '1s'; it must be a positive number "
            "of seconds.",
        ),
        (
            {"SYZYGY_QUORUM_LIVENESS_TIMEOUT": 0},
            "SYZYGY_QUORUM_LIVENESS_TIMEOUT is 0; it must be a positive number of "
            "seconds.",
        ),
        (
            {"SYZYGY_QUORUM_LIVENESS_TIMEOUT": True},
            "SYZYGY_QUORUM_LIVENESS_TIMEOUT is True; it must be a positive number "
            "of seconds.",
        ),
        (
            {
                "SYZYGY_QUORUM_HEARTBEAT_INTERVAL": 2,
                "SYZYGY_QUORUM_LIVENESS_TIMEOUT": 3,
            },
            "SYZYGY_QUORUM_LIVENESS_TIMEOUT is 3; it must be at least twice "
            "SYZYGY_QUORUM_HEARTBEAT_INTERVAL (2), so that one late heartbeat "
            "doesn't make the applying party look lost.",
        ),
    ],
)
def test_invalid_liveness_settings_raise_improperly_configured(
    overrides: dict[str, Any], message: str
) -> None:
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured) as raised:
        quorum_liveness()
    assert str(raised.value) == message


def test_liveness_settings_are_read_at_call_time() -> None:
    with override_settings(
        SYZYGY_QUORUM_HEARTBEAT_INTERVAL=0.5, SYZYGY_QUORUM_LIVENESS_TIMEOUT=2
    ):
        assert quorum_liveness() == QuorumLiveness(0.5, 2.0)


def migration(app_label: str, name: str) -> Migration:
    return Migration(name, app_label)


def test_plan_namespace_names_the_stage_the_database_and_the_plan() -> None:
    plan = [(migration("alpha", "0001_initial"), False)]
    namespace = plan_namespace(Stage.PRE_DEPLOY, "default", plan)
    stage, database, digest = namespace.split(":")
    assert (stage, database, len(digest)) == ("pre-deploy", "default", 64)
    # Stable across processes: a digest of the keys, not of the objects.
    assert namespace == plan_namespace(
        Stage.PRE_DEPLOY, "default", [(migration("alpha", "0001_initial"), False)]
    )


def test_plan_namespace_differs_with_any_part_of_the_plan() -> None:
    first, second = migration("alpha", "0001_initial"), migration("alpha", "0002_b")
    namespaces = {
        plan_namespace(Stage.PRE_DEPLOY, "default", [(first, False), (second, False)]),
        plan_namespace(Stage.POST_DEPLOY, "default", [(first, False), (second, False)]),
        plan_namespace(Stage.PRE_DEPLOY, "other", [(first, False), (second, False)]),
        plan_namespace(Stage.PRE_DEPLOY, "default", [(second, False), (first, False)]),
        plan_namespace(Stage.PRE_DEPLOY, "default", [(first, True), (second, True)]),
        plan_namespace(Stage.PRE_DEPLOY, "default", [(first, False)]),
    }
    assert len(namespaces) == 6


# Random interleavings of parties that join a quorum and give up on it.
JOIN = st.just(("join", 0))
GIVE_UP = st.tuples(st.just("give up"), st.integers(min_value=0, max_value=20))


@settings(max_examples=200, deadline=None)
@given(
    quorum=st.integers(min_value=2, max_value=4),
    actions=st.lists(st.one_of(JOIN, GIVE_UP), max_size=25),
)
def test_interleaved_parties_elect_one_applier_per_complete_round(
    quorum: int, actions: list[tuple[str, int]]
) -> None:
    backend = ThreadQuorum()
    namespace = unique()
    parties: list[CacheParty] = []
    gave_up: set[int] = set()
    reached: set[int] = set()
    for action, index in actions:
        if action == "join":
            party = backend.party(namespace, quorum, LIVENESS)
            assert isinstance(party, CacheParty)
            parties.append(party)
            continue
        waiting = [
            number
            for number in range(len(parties))
            if number not in gave_up | reached and not parties[number].applies
        ]
        if not waiting:
            continue
        number = waiting[index % len(waiting)]
        try:
            parties[number].wait_for_quorum(0)
        except QuorumTimeout:
            gave_up.add(number)
        else:
            reached.add(number)
    rounds: dict[int, list[int]] = {}
    for number, party in enumerate(parties):
        rounds.setdefault(party.round, []).append(number)
    for members in rounds.values():
        appliers = [number for number in members if parties[number].applies]
        assert len(appliers) <= 1
        if appliers:
            # A complete round: its parties hold the positions 1 to quorum,
            # none of them gave up, and those that looked know the applier.
            assert sorted(parties[number].position or 0 for number in members) == list(
                range(1, quorum + 1)
            )
            assert not gave_up & set(members)
            for number in reached & set(members):
                assert parties[number].applier == parties[appliers[0]].identity
        else:
            assert not reached & set(members)
    for party in parties:
        party.close()


def test_postgresql_quorum_refuses_other_databases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connections["second"], "vendor", "mysql")
    with pytest.raises(ImproperlyConfigured) as raised:
        PostgreSQLQuorum("second")
    assert str(raised.value) == (
        "PostgreSQLQuorum needs a PostgreSQL database, and the database 'second' is "
        "mysql; use CacheQuorum instead."
    )


def test_heartbeat_beats_on_through_failures_and_closes_on_its_thread() -> None:
    beats: list[str] = []
    closed: list[str] = []

    def beat() -> None:
        beats.append(threading.current_thread().name)
        raise RuntimeError("the cache is down")

    with Heartbeat(
        beat, 0.01, close=lambda: closed.append(threading.current_thread().name)
    ) as heartbeat:
        time.sleep(0.1)
    assert len(beats) >= 2
    assert heartbeat.failures == len(beats)
    assert closed == ["syzygy-quorum-heartbeat"]
    assert set(beats) == {"syzygy-quorum-heartbeat"}


def legacy_parties(count: int, quorum: int) -> list[Party]:
    backend = LegacyQuorum()
    namespace = unique()
    return [backend.party(namespace, quorum, LIVENESS) for _ in range(count)]


def test_1x_backends_get_parties_that_keep_to_join_poll_and_sever() -> None:
    backend = LegacyQuorum()
    namespace = unique()
    waiting = backend.party(namespace, 2, LIVENESS)
    applier = backend.party(namespace, 2, LIVENESS)
    assert isinstance(waiting, LegacyParty)
    assert (waiting.applies, applier.applies) == (False, True)
    assert (waiting.position, applier.position) == (None, 2)
    applier.wait_for_quorum(1)
    waiting.wait_for_quorum(1)
    assert waiting.applier is None

    def apply() -> None:
        with applier.applying():
            pass

    # The applying party leaves once the other has joined the second meeting.
    publishing = threading.Thread(target=apply)
    publishing.start()
    counter = ThreadQuorum()
    while counter.get(f"syzygy-quorum:post:{namespace}") != 1:
        time.sleep(0.001)
    waiting.wait_for_outcome(1)
    publishing.join(5)
    assert applier.outcome is Outcome.APPLIED


def test_1x_backends_dissolve_the_quorum_when_the_applying_party_fails() -> None:
    backend = LegacyQuorum()
    namespace = unique()
    waiting = backend.party(namespace, 2, LIVENESS)
    with backend.party(namespace, 2, LIVENESS) as applier:
        applier.wait_for_quorum(1)
    assert applier.outcome is Outcome.FAILED
    with pytest.raises(QuorumDissolved):
        waiting.wait_for_outcome(1)


def test_1x_backends_time_out() -> None:
    namespace = unique()
    with pytest.raises(QuorumTimeout) as raised:
        LegacyQuorum().party(namespace, 2, LIVENESS).wait_for_quorum(0.05)
    assert str(raised.value) == (
        f"Timed out after 0.05s waiting for 2 parties of quorum {namespace!r}."
    )
