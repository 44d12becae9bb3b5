"""The quorum backends: the local memory cache, Redis and PostgreSQL.

Parties run on threads here, to cover every path in this process; the tests
of ``test_quorum_processes`` run them as processes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test.utils import override_settings

from syzygy.conf import QuorumLiveness
from syzygy.quorum import (
    ApplierLost,
    QuorumDissolved,
    QuorumTimeout,
    QuorumUnavailable,
)
from syzygy.quorum.backends import cache, postgresql
from syzygy.quorum.backends.base import Outcome, Party, QuorumBase
from syzygy.quorum.backends.cache import CacheQuorum, PollingSignal
from syzygy.quorum.backends.postgresql import PostgreSQLQuorum

from .quorum_support import (
    REDIS_URL,
    ThreadQuorum,
    closed_port,
    redis_caches,
    require_postgresql,
    require_redis,
)

LIVENESS = QuorumLiveness(heartbeat_interval=0.05, timeout=0.5)
# Long enough never to expire in a passing test.
PATIENCE = 30.0


@pytest.fixture(params=["locmem", "redis", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[QuorumBase]:
    if request.param == "locmem":
        yield ThreadQuorum()
    elif request.param == "redis":
        with override_settings(CACHES=redis_caches(require_redis())):
            yield CacheQuorum("quorum")
    else:
        require_postgresql()
        request.getfixturevalue("transactional_db")
        yield PostgreSQLQuorum()


def unique() -> str:
    return f"test:default:{uuid.uuid4().hex}"


class Parties:
    """Parties running on threads, each with its result or its error."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.results: list[Any] = []

    def start(self, function: Callable[[], Any]) -> None:
        index = len(self.results)
        self.results.append(None)

        def run() -> None:
            try:
                self.results[index] = function()
            except BaseException as exc:  # reported by the test
                self.results[index] = exc
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def join(self) -> list[Any]:
        for thread in self.threads:
            thread.join(PATIENCE)
            assert not thread.is_alive()
        return self.results


def take_part(
    backend: QuorumBase,
    namespace: str,
    quorum: int,
    apply: Callable[[], None] = lambda: None,
    joined: threading.Event | None = None,
    timeout: float = PATIENCE,
    liveness: QuorumLiveness = LIVENESS,
) -> str:
    """Do what ``migrate --quorum`` does; return what this party did."""
    with backend.party(namespace, quorum, liveness) as party:
        if joined is not None:
            joined.set()
        party.wait_for_quorum(timeout)
        if party.applies:
            with party.applying():
                apply()
            assert party.outcome is Outcome.APPLIED
            return "applied"
        party.wait_for_outcome(timeout)
        return "waited"


def start_waiting_parties(
    parties: Parties, backend: QuorumBase, namespace: str, quorum: int, count: int
) -> None:
    """Start ``count`` parties and return once they have all joined."""
    for _ in range(count):
        joined = threading.Event()
        parties.start(
            functools.partial(take_part, backend, namespace, quorum, joined=joined)
        )
        assert joined.wait(PATIENCE)


def test_join_returns_true_for_the_party_that_completes_the_quorum(
    backend: QuorumBase,
) -> None:
    namespace = unique()
    assert [backend.join(namespace, 3) for _ in range(3)] == [False, False, True]
    assert backend.poll(namespace, 3)
    assert backend.poll(namespace, 3)
    # The last poll cleared the namespace: a new quorum can meet in it.
    assert [backend.join(namespace, 2) for _ in range(2)] == [False, True]


def test_poll_is_false_until_the_quorum_is_reached(backend: QuorumBase) -> None:
    namespace = unique()
    backend.join(namespace, 2)
    assert not backend.poll(namespace, 2)
    assert backend.join(namespace, 2)
    assert backend.poll(namespace, 2)


def test_sever_makes_every_poll_raise_quorum_dissolved(backend: QuorumBase) -> None:
    namespace = unique()
    backend.join(namespace, 3)
    backend.join(namespace, 3)
    backend.sever(namespace, 3)
    for _ in range(2):
        with pytest.raises(QuorumDissolved):
            backend.poll(namespace, 3)


def test_sever_before_anyone_joined_dissolves_the_namespace(
    backend: QuorumBase,
) -> None:
    namespace = unique()
    backend.sever(namespace, 2)
    assert not backend.join(namespace, 2)
    with pytest.raises(QuorumDissolved):
        backend.poll(namespace, 2)


def test_poll_of_an_unknown_namespace_raises_quorum_dissolved(
    backend: QuorumBase,
) -> None:
    with pytest.raises(QuorumDissolved):
        backend.poll(unique(), 2)


def test_one_party_applies_and_the_others_learn_that_it_did(
    backend: QuorumBase,
) -> None:
    namespace, applied = unique(), []
    parties = Parties()
    for _ in range(5):
        parties.start(
            lambda: take_part(backend, namespace, 5, lambda: applied.append(1))
        )
    assert sorted(parties.join()) == ["applied", "waited", "waited", "waited", "waited"]
    assert applied == [1]


def test_waiting_parties_learn_that_the_applying_party_failed(
    backend: QuorumBase,
) -> None:
    def fail() -> None:
        raise RuntimeError("the migration failed")

    namespace = unique()
    parties = Parties()
    for _ in range(3):
        parties.start(lambda: take_part(backend, namespace, 3, fail))
    results = parties.join()
    assert sorted(type(result).__name__ for result in results) == [
        "QuorumDissolved",
        "QuorumDissolved",
        "RuntimeError",
    ]
    for result in results:
        if isinstance(result, QuorumDissolved):
            assert "failed to apply the plan of quorum" in str(result)


def test_heartbeats_keep_a_slow_applying_party_alive(backend: QuorumBase) -> None:
    namespace = unique()
    parties = Parties()
    start_waiting_parties(parties, backend, namespace, 3, 2)
    # Three times longer than the liveness timeout.
    assert take_part(backend, namespace, 3, lambda: time.sleep(1.5)) == "applied"
    assert parties.join() == ["waited", "waited"]


def test_a_silent_applying_party_is_given_up_and_a_new_run_starts_afresh(
    backend: QuorumBase,
) -> None:
    namespace = unique()
    parties = Parties()
    start_waiting_parties(parties, backend, namespace, 3, 2)
    with backend.party(namespace, 3, LIVENESS) as applier:
        applier.wait_for_quorum(0)
        assert applier.applies
        # It never heartbeats nor publishes, as if its process froze.
        results = parties.join()
        assert [type(result) for result in results] == [ApplierLost, ApplierLost]
        assert any("was lost: no heartbeat for 0.5s" in str(r) for r in results)
    # A frozen party that wakes up learns it was given up.
    assert applier.outcome is Outcome.LOST
    parties = Parties()
    for _ in range(3):
        parties.start(lambda: take_part(backend, namespace, 3))
    assert sorted(parties.join()) == ["applied", "waited", "waited"]


def test_an_applying_party_that_published_nothing_failed(backend: QuorumBase) -> None:
    namespace = unique()
    parties = Parties()
    start_waiting_parties(parties, backend, namespace, 2, 1)
    with backend.party(namespace, 2, LIVENESS) as applier:
        applier.wait_for_quorum(0)
    assert applier.outcome is Outcome.FAILED
    (result,) = parties.join()
    assert type(result) is QuorumDissolved


# The local memory cache has no connections.
@pytest.mark.parametrize("backend", ["redis", "postgresql"], indirect=True)
def test_an_applying_party_whose_connection_closes_is_lost_at_once(
    backend: QuorumBase,
) -> None:
    # Minutes between heartbeats: only the closed connection can tell.
    liveness = QuorumLiveness(heartbeat_interval=0.05, timeout=300)
    namespace = unique()
    parties = Parties()
    joined = threading.Event()
    parties.start(
        lambda: take_part(backend, namespace, 2, joined=joined, liveness=liveness)
    )
    assert joined.wait(PATIENCE)
    with backend.party(namespace, 2, liveness) as applier:
        applier.wait_for_quorum(0)
        # What the server sees when the process of the applying party dies.
        if isinstance(applier, postgresql.PostgreSQLParty):
            applier._session.close()
            cause = "its database session ended"
        else:
            assert isinstance(applier, cache.CacheParty)
            applier._signal.close()
            cause = "its connection to the cache closed"
        (result,) = parties.join()
        assert type(result) is ApplierLost
        assert str(result).endswith(f"was lost: {cause}.")


def test_gather_timeout_says_how_many_parties_joined(backend: QuorumBase) -> None:
    namespace = unique()
    with backend.party(namespace, 3, LIVENESS) as party:
        assert party.position == 1
        with pytest.raises(QuorumTimeout) as raised:
            party.wait_for_quorum(0.2)
    assert str(raised.value) == (
        f"Timed out after 0.2s waiting for quorum {namespace!r}: 1 of 3 parties had "
        f"joined."
    )


def test_parties_meet_in_a_new_round_when_one_of_them_gives_up(
    backend: QuorumBase,
) -> None:
    namespace = unique()
    parties = Parties()
    start_waiting_parties(parties, backend, namespace, 3, 1)
    with backend.party(namespace, 3, LIVENESS) as impatient:
        with pytest.raises(QuorumTimeout) as raised:
            impatient.wait_for_quorum(0.2)
        assert "2 of 3 parties had joined" in str(raised.value)
    # The patient party waits on in the next round, with the newcomers.
    for _ in range(2):
        parties.start(lambda: take_part(backend, namespace, 3))
    assert sorted(parties.join()) == ["applied", "waited", "waited"]


def test_a_party_that_joins_a_complete_round_meets_in_the_next_one(
    backend: QuorumBase,
) -> None:
    namespace = unique()
    first = backend.party(namespace, 2, LIVENESS)
    second = backend.party(namespace, 2, LIVENESS)
    late = backend.party(namespace, 2, LIVENESS)
    try:
        assert (first.applies, second.applies, late.applies) == (False, True, False)
        assert late.position == 1
        with pytest.raises(QuorumTimeout, match="1 of 2 parties had joined"):
            late.wait_for_quorum(0.1)
        first.wait_for_quorum(0)
        with second.applying():
            pass
        first.wait_for_outcome(0)
    finally:
        for party in (first, second, late):
            party.close()


def test_waiting_for_the_outcome_times_out(backend: QuorumBase) -> None:
    namespace = unique()
    waiting = backend.party(namespace, 2, LIVENESS)
    applier = backend.party(namespace, 2, LIVENESS)
    try:
        waiting.wait_for_quorum(0)
        with applier.applying():
            with pytest.raises(QuorumTimeout):
                waiting.wait_for_outcome(0)
            with pytest.raises(QuorumTimeout) as raised:
                waiting.wait_for_outcome(0.3)
        assert str(raised.value) == (
            f"Timed out after 0.3s waiting for {applier.identity} to apply the plan "
            f"of quorum {namespace!r}."
        )
        waiting.wait_for_outcome(0)
    finally:
        waiting.close()
        applier.close()


def test_a_party_that_gives_up_as_the_quorum_is_reached_takes_part(
    backend: QuorumBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = unique()
    waiting = backend.party(namespace, 2, LIVENESS)
    late: list[Party | None] = []

    def last_party_joins() -> None:
        if not late:
            late.append(None)
            late[0] = backend.party(namespace, 2, LIVENESS)

    # The last party joins just before the waiting one gives the round up.
    if isinstance(waiting, postgresql.PostgreSQLParty):
        abandon = postgresql.PostgreSQLParty._abandon

        def join_then_abandon(party: postgresql.PostgreSQLParty) -> bool:
            last_party_joins()
            return abandon(party)

        monkeypatch.setattr(postgresql.PostgreSQLParty, "_abandon", join_then_abandon)
    else:
        assert isinstance(backend, CacheQuorum)
        add = backend.add

        def join_then_add(key: str, value: Any) -> bool:
            if key.endswith(":state"):
                last_party_joins()
            return add(key, value)

        monkeypatch.setattr(backend, "add", join_then_add)
    try:
        waiting.wait_for_quorum(0)
        assert late[0] is not None
        assert late[0].applies
        assert waiting.applier == late[0].identity
    finally:
        monkeypatch.undo()
        waiting.close()
        if late and late[0] is not None:
            late[0].close()


def test_an_unreachable_redis_is_reported_before_anything_happens() -> None:
    caches = redis_caches(f"redis://127.0.0.1:{closed_port()}/0")
    with override_settings(CACHES=caches):
        backend = CacheQuorum("quorum")
        for attempt in (
            lambda: backend.join(unique(), 2),
            lambda: backend.party(unique(), 2, LIVENESS),
        ):
            with pytest.raises(QuorumUnavailable) as raised:
                attempt()
            assert str(raised.value).startswith(
                "The cache 'quorum' of the quorum (django_redis.cache.RedisCache) is "
                "unavailable: "
            )
            assert "Connection refused" in str(raised.value)


def test_a_cache_that_ignores_its_errors_is_unavailable() -> None:
    caches = redis_caches(f"redis://127.0.0.1:{closed_port()}/0")
    caches["quorum"]["OPTIONS"] = {"IGNORE_EXCEPTIONS": True}
    with override_settings(CACHES=caches):
        backend = CacheQuorum("quorum")
        with pytest.raises(
            QuorumUnavailable, match=r"unavailable: add\(\) returned None"
        ):
            backend.join(unique(), 2)
        with pytest.raises(
            QuorumUnavailable, match=r"unavailable: incr\(\) returned None"
        ):
            backend.incr("syzygy-quorum:test")


def test_a_corrupted_round_key_is_reported() -> None:
    backend = ThreadQuorum()
    namespace = unique()
    backend.set(f"syzygy-quorum:{namespace}:round", "one")
    with pytest.raises(QuorumUnavailable, match=r"unavailable: get\(\) returned 'one'"):
        backend.party(namespace, 2, LIVENESS)


def test_caches_without_redis_poll() -> None:
    assert isinstance(ThreadQuorum().signal("syzygy-quorum:test"), PollingSignal)


def test_an_unreachable_postgresql_is_reported(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgresql()

    monkeypatch.setattr(postgresql, "new_connection", unreachable_connection)
    backend = PostgreSQLQuorum()
    for attempt in (
        lambda: backend.join(unique(), 2),
        lambda: backend.party(unique(), 2, LIVENESS),
    ):
        with pytest.raises(QuorumUnavailable) as raised:
            attempt()
        assert str(raised.value).startswith(
            "The database 'default' of the quorum is unavailable: "
        )


def test_a_waiting_party_that_gives_up_as_the_applier_publishes_takes_the_outcome(
    backend: QuorumBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = unique()
    waiting = backend.party(namespace, 2, LIVENESS)
    applier = backend.party(namespace, 2, LIVENESS)

    def publish_first() -> None:
        # The silent applying party publishes just before it is given up.
        with applier.applying():
            pass

    if isinstance(waiting, postgresql.PostgreSQLParty):
        record_lost = postgresql.PostgreSQLParty._record_lost

        def publish_then_record_lost(party: postgresql.PostgreSQLParty) -> bool:
            publish_first()
            return record_lost(party)

        monkeypatch.setattr(
            postgresql.PostgreSQLParty, "_record_lost", publish_then_record_lost
        )
    else:
        assert isinstance(backend, CacheQuorum)
        add = backend.add

        def publish_then_add(key: str, value: Any) -> bool:
            if value == Outcome.LOST.value:
                publish_first()
            return add(key, value)

        monkeypatch.setattr(backend, "add", publish_then_add)
    try:
        waiting.wait_for_quorum(0)
        waiting.wait_for_outcome(PATIENCE)
        assert applier.outcome is Outcome.APPLIED
    finally:
        monkeypatch.undo()
        waiting.close()
        applier.close()


def test_an_applying_party_that_cannot_heartbeat_still_applies(
    backend: QuorumBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.party(unique(), 1, LIVENESS) as party:
        assert party.applies
        # From now on, every heartbeat fails.
        if isinstance(party, postgresql.PostgreSQLParty):
            monkeypatch.setattr(postgresql, "new_connection", unreachable_connection)
        else:
            assert isinstance(backend, CacheQuorum)
            set_key = backend.set

            def failing_set(key: str, value: Any) -> None:
                if key.endswith(":beat"):
                    raise backend.unavailable("the heartbeat failed")
                set_key(key, value)

            monkeypatch.setattr(backend, "set", failing_set)
        with party.applying():
            time.sleep(3 * LIVENESS.heartbeat_interval)
    assert party.outcome is Outcome.APPLIED


def test_a_stale_round_pointer_is_walked_past() -> None:
    # As if the applying party died before it moved the pointer on.
    backend = ThreadQuorum()
    namespace = unique()
    first = backend.party(namespace, 2, LIVENESS)
    second = backend.party(namespace, 2, LIVENESS)
    assert isinstance(second, cache.CacheParty)
    backend.set(f"syzygy-quorum:{namespace}:round", second.round)
    late = backend.party(namespace, 2, LIVENESS)
    assert isinstance(late, cache.CacheParty)
    assert (late.round, late.position) == (second.round + 1, 1)
    for party in (first, second, late):
        party.close()


def test_an_evicted_count_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ThreadQuorum()
    add = backend.add

    def add_then_evict(key: str, value: Any) -> bool:
        added = add(key, value)
        if key.endswith(":joined"):
            backend.cache.delete(key)
        return added

    monkeypatch.setattr(backend, "add", add_then_evict)
    with pytest.raises(QuorumUnavailable, match=r"unavailable: .*not found"):
        backend.party(unique(), 2, LIVENESS)


def test_caches_without_raw_redis_clients_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shards": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": ["redis://127.0.0.1:6379/0"],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }
    with override_settings(CACHES=caches):
        signal = CacheQuorum("shards").signal("syzygy-quorum:test")
    assert isinstance(signal, PollingSignal)
    # Without django-redis installed.
    monkeypatch.setitem(sys.modules, "django_redis", None)
    with override_settings(CACHES=redis_caches(REDIS_URL)):
        signal = CacheQuorum("quorum").signal("syzygy-quorum:test")
    assert isinstance(signal, PollingSignal)


@pytest.fixture
def private_redis() -> Iterator[str]:
    """Start a Redis server of the test's own, which the test may stop."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = closed_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server didn't start"
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()


def test_a_redis_that_stops_while_parties_wait_is_reported(
    private_redis: str,
) -> None:
    with override_settings(CACHES=redis_caches(private_redis)):
        backend = CacheQuorum("quorum")
        signal = backend.signal("syzygy-quorum:test")
        party = backend.party(unique(), 2, LIVENESS)
        try:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                redis.Redis.from_url(private_redis).shutdown(nosave=True)
            for attempt in (
                lambda: signal.wait(PATIENCE),
                signal.notify,
                lambda: signal.hold("syzygy-quorum:test:applier"),
                lambda: signal.held("syzygy-quorum:test:applier"),
                lambda: party.wait_for_quorum(PATIENCE),
            ):
                with pytest.raises(QuorumUnavailable, match="Connection refused"):
                    attempt()
        finally:
            signal.close()
            party.close()


def unreachable_connection(alias: str) -> Any:
    """Return a connection to ``alias`` on a port where nothing listens."""
    connection = connections[alias].copy()
    connection.settings_dict["PORT"] = closed_port()
    return connection


def test_a_round_row_that_vanished_is_reported(transactional_db: None) -> None:
    require_postgresql()
    backend = PostgreSQLQuorum()
    namespace = unique()
    with backend.party(namespace, 2, LIVENESS) as party:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "DELETE FROM syzygy_quorum WHERE namespace = %s", [namespace]
            )
        with pytest.raises(QuorumUnavailable, match="syzygy_quorum lost a row"):
            party.wait_for_quorum(PATIENCE)


def test_a_table_of_the_project_is_never_used(transactional_db: None) -> None:
    require_postgresql()
    backend = PostgreSQLQuorum(table="django_migrations")
    with pytest.raises(ImproperlyConfigured) as raised:
        backend.party(unique(), 2, LIVENESS)
    assert str(raised.value) == (
        "PostgreSQLQuorum's table is 'django_migrations', a table of the database "
        "'default' that syzygy didn't create; name a table that doesn't exist, and "
        "syzygy creates it."
    )


def test_a_session_that_cannot_reconnect_is_reported(transactional_db: None) -> None:
    require_postgresql()
    with PostgreSQLQuorum().session() as session:
        session.close()
        session.connection = unreachable_connection("default")
        with pytest.raises(QuorumUnavailable), session.transaction():
            pass  # pragma: no cover - the transaction never starts


def test_a_party_that_cannot_join_closes_its_connection(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgresql()
    backend = PostgreSQLQuorum()
    sessions: list[postgresql.Session] = []
    open_session = backend.session

    def recorded_session() -> postgresql.Session:
        sessions.append(open_session())
        return sessions[-1]

    def fail_to_join(party: postgresql.PostgreSQLParty) -> None:
        raise backend.unavailable("the server went away")

    monkeypatch.setattr(backend, "session", recorded_session)
    monkeypatch.setattr(postgresql.PostgreSQLParty, "_join", fail_to_join)
    with pytest.raises(QuorumUnavailable, match="the server went away"):
        backend.party(unique(), 2, LIVENESS)
    (session,) = sessions
    assert session.connection.connection is None


def test_a_held_name_is_confirmed_past_earlier_publications() -> None:
    with override_settings(CACHES=redis_caches(require_redis())):
        backend = CacheQuorum("quorum")
        channel = f"syzygy-quorum:{unique()}"
        holder = backend.signal(f"{channel}:signal")
        watcher = backend.signal(f"{channel}:signal")
        try:
            # A publication reaches the holder before its next confirmation.
            watcher.notify()
            assert watcher.held(f"{channel}:applier") is False
            holder.hold(f"{channel}:applier")
            assert watcher.held(f"{channel}:applier") is True
        finally:
            holder.close()
        deadline = time.monotonic() + PATIENCE
        while watcher.held(f"{channel}:applier"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        watcher.close()


# PostgreSQL serialises joins and abandons with row locks.
@pytest.mark.parametrize("backend", ["locmem", "redis"], indirect=True)
def test_a_party_that_completes_a_round_being_abandoned_meets_in_the_next_one(
    backend: QuorumBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = unique()
    impatient = backend.party(namespace, 2, LIVENESS)
    # The first party gives up just before the second claims the round.
    assert isinstance(backend, CacheQuorum)
    add = backend.add

    def abandon_then_add(key: str, value: Any) -> bool:
        if key.endswith(":state") and value[0] == "go":
            with pytest.raises(QuorumTimeout):
                impatient.wait_for_quorum(0)
        return add(key, value)

    monkeypatch.setattr(backend, "add", abandon_then_add)
    late = backend.party(namespace, 2, LIVENESS)
    monkeypatch.undo()
    assert isinstance(late, cache.CacheParty)
    assert isinstance(impatient, cache.CacheParty)
    assert (late.applies, late.position, late.round) == (False, 1, impatient.round + 1)
    impatient.close()
    late.close()
