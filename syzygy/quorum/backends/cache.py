"""A quorum on a Django cache with atomic ``add`` and ``incr``, such as Redis.

``migrate --quorum`` meets in rounds. The parties of a round count
themselves with ``incr``; the one that completes the quorum claims the round
with ``add`` and applies the plan, heartbeating into the cache, and records
the outcome with ``add``. A party that times out claims the round as
abandoned instead, and the others move on to the next round; a waiting party
that sees no heartbeat for the liveness timeout, or no connection of the
applying party, records the applying party as lost. ``add`` decides every
race, so each round ends one way only, and a later run starts a fresh round
at once.

On django-redis, waiting parties block on a Redis channel that the others
publish to after every change, and the applying party subscribes to a
channel of its round, which Redis drops when its connection closes; on other
caches, waiting parties poll with a short exponential back-off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured

from ...conf import QuorumLiveness, positive_seconds, quorum_liveness
from ..exceptions import QuorumDissolved, QuorumTimeout, QuorumUnavailable
from ..waiting import Backoff, Deadline, Heartbeat
from .base import Outcome, Party, QuorumBase

__all__ = ("CacheQuorum",)

T = TypeVar("T")

_GO = "go"
_ABANDONED = "abandoned"


class CacheQuorum(QuorumBase):
    """A quorum kept in the cache ``alias``, whose keys live ``timeout`` seconds.

    The cache must be shared by the parties and increment atomically: Redis
    and memcached do. The local-memory cache keeps its keys in one process:
    only a subclass whose ``single_process`` is true, for tests whose parties
    are threads, accepts it.
    """

    namespace_key_format = "syzygy-quorum:{namespace}"
    single_process = False

    def __init__(
        self,
        alias: str = DEFAULT_CACHE_ALIAS,
        timeout: int = 3600,
        version: int | None = None,
    ) -> None:
        if alias not in settings.CACHES:
            raise ImproperlyConfigured(
                f"CacheQuorum's alias is {alias!r}, which is not in the CACHES "
                f"setting; accepted values are {', '.join(map(repr, settings.CACHES))}."
            )
        positive_seconds(timeout, "CacheQuorum's timeout")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int)
        ):
            raise ImproperlyConfigured(
                f"CacheQuorum's version is {version!r}; it must be an integer or None."
            )
        cache_class = type(caches[alias])
        if issubclass(cache_class, LocMemCache) and not self.single_process:
            raise ImproperlyConfigured(
                f"CacheQuorum needs a cache that the parties share, and the cache "
                f"{alias!r} ({cache_class.__module__}.{cache_class.__name__}) keeps "
                f"its keys in the memory of one process; use Redis or memcached."
            )
        if issubclass(cache_class, DummyCache) or cache_class.incr is BaseCache.incr:
            raise ImproperlyConfigured(
                f"CacheQuorum needs a cache that increments atomically, and the "
                f"cache {alias!r} ({cache_class.__module__}.{cache_class.__name__}) "
                f"doesn't; use Redis or memcached."
            )
        self.alias = alias
        self.timeout = timeout
        self.version = version

    @property
    def cache(self) -> BaseCache:
        """Return the cache of this thread."""
        return caches[self.alias]

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ValueError:
            # incr and decr of a missing key: part of the protocol.
            raise
        except Exception as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, cause: object) -> QuorumUnavailable:
        """Return the error of a cache that failed or answered nonsense."""
        cache_class = type(self.cache)
        return QuorumUnavailable(
            f"The cache {self.alias!r} of the quorum "
            f"({cache_class.__module__}.{cache_class.__name__}) is unavailable: "
            f"{cause}"
        )

    def add(self, key: str, value: Any) -> bool:
        """Add ``key`` unless it exists; return whether it was added."""
        added = self._call(
            lambda: self.cache.add(key, value, self.timeout, version=self.version)
        )
        if not isinstance(added, bool):
            raise self.unavailable(f"add() returned {added!r}")
        return added

    def incr(self, key: str, delta: int = 1) -> int:
        """Increment ``key``; raise ``ValueError`` if it is missing."""
        value = self._call(lambda: self.cache.incr(key, delta, version=self.version))
        if not isinstance(value, int):
            raise self.unavailable(f"incr() returned {value!r}")
        return value

    def get(self, key: str) -> Any:
        """Return the value of ``key``, or ``None``."""
        return self._call(lambda: self.cache.get(key, version=self.version))

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value``."""
        self._call(lambda: self.cache.set(key, value, self.timeout, self.version))

    def _keys(self, namespace: str) -> tuple[str, str]:
        joined = self.namespace_key_format.format(namespace=namespace)
        return joined, f"{joined}:clear"

    def join(self, namespace: str, quorum: int) -> bool:
        joined, polls_left = self._keys(namespace)
        self.add(joined, 0)
        # Every party but the one that completes the quorum polls once it is
        # reached; the last poll clears the keys.
        self.add(polls_left, quorum - 1)
        return self.incr(joined) == quorum

    def sever(self, namespace: str, quorum: int) -> None:
        joined, _ = self._keys(namespace)
        self.add(joined, 0)
        self.incr(joined, -quorum)

    def poll(self, namespace: str, quorum: int) -> bool:
        joined, polls_left = self._keys(namespace)
        count = self.get(joined)
        if count is not None and count != quorum and count > 0:
            return False
        try:
            if self.incr(polls_left, -1) <= 0:
                self._call(
                    lambda: self.cache.delete_many(
                        [joined, polls_left], version=self.version
                    )
                )
        except ValueError:
            pass  # Cleared by the last poll, or expired.
        if count == quorum:
            return True
        raise QuorumDissolved(f"The quorum {namespace!r} was dissolved.")

    def party(
        self, namespace: str, quorum: int, liveness: QuorumLiveness | None = None
    ) -> Party:
        return CacheParty(self, namespace, quorum, liveness or quorum_liveness())

    def signal(self, channel: str) -> Signal:
        """Return how waiting parties learn that the keys of a round changed."""
        try:
            from django_redis import get_redis_connection  # type: ignore[import-untyped]
            from django_redis.cache import RedisCache  # type: ignore[import-untyped]
        except ImportError:
            return PollingSignal()
        if not isinstance(self.cache, RedisCache):
            return PollingSignal()
        try:
            client = get_redis_connection(self.alias)
        except NotImplementedError:
            # A django-redis client without raw access, such as ShardClient.
            return PollingSignal()
        return RedisSignal(client, self.channel_name(channel), self)

    def channel_name(self, name: str) -> str:
        """Return the Redis channel of ``name``, in the key space of the cache."""
        return str(self.cache.make_key(name, version=self.version))


class Signal(Protocol):
    """Wake waiting parties up when the keys of their round change.

    A signal may also tell whether a party is still connected: the applying
    party ``hold``s the name of its round until its connection closes, which
    the others learn from ``held``.
    """

    def wait(self, timeout: float) -> None:
        """Return after a change, or after at most ``timeout`` seconds."""

    def notify(self) -> None:
        """Wake up the waiting parties."""

    def hold(self, name: str) -> None:
        """Hold ``name`` for as long as this process stays connected."""

    def held(self, name: str) -> bool | None:
        """Return whether a connected process holds ``name``, if the signal knows."""

    def close(self) -> None:
        """Release what the signal holds."""


class PollingSignal:
    """A signal for caches that can't block: sleep a growing short delay."""

    def __init__(self) -> None:
        self._backoff = Backoff()

    def wait(self, timeout: float) -> None:
        self._backoff.wait(timeout)

    def notify(self) -> None:
        pass

    def hold(self, name: str) -> None:
        pass

    def held(self, name: str) -> bool | None:
        return None

    def close(self) -> None:
        pass


class RedisSignal:
    """A signal on a Redis publish/subscribe channel.

    A name is held by subscribing to a channel of that name: Redis drops the
    subscription the moment the process's connection closes, as it does when
    the process dies.
    """

    def __init__(self, client: Any, channel: str, backend: CacheQuorum) -> None:
        self._client = client
        self._channel = channel
        self._backend = backend
        self._subscription = client.pubsub()
        try:
            # Once subscribed, no publication is missed: the caller may read
            # the keys and then wait.
            self._subscribe(channel)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, channel: str) -> None:
        """Subscribe to ``channel``; return once Redis has confirmed it."""
        confirmations = {channel, channel.encode()}
        deadline = Deadline(10)
        try:
            self._subscription.subscribe(channel)
            # Publications that come first only meant to wake this party up.
            while True:
                message = self._subscription.get_message(timeout=deadline.remaining)
                if message is None or (
                    message["type"] == "subscribe"
                    and message["channel"] in confirmations
                ):
                    break
        except Exception as exc:
            raise self._backend.unavailable(exc) from exc
        if message is None:  # pragma: no cover - Redis confirms at once
            raise self._backend.unavailable(
                f"no confirmation of the subscription to {channel!r}"
            )

    def wait(self, timeout: float) -> None:
        try:
            self._subscription.get_message(timeout=timeout)
        except Exception as exc:
            raise self._backend.unavailable(exc) from exc

    def notify(self) -> None:
        try:
            self._client.publish(self._channel, b"changed")
        except Exception as exc:
            raise self._backend.unavailable(exc) from exc

    def hold(self, name: str) -> None:
        # Confirmed before the caller claims a round: no party may see the
        # claim while Redis doesn't know of the subscription yet.
        self._subscribe(self._backend.channel_name(name))

    def held(self, name: str) -> bool | None:
        try:
            ((_, subscribers),) = self._client.pubsub_numsub(
                self._backend.channel_name(name)
            )
        except Exception as exc:
            raise self._backend.unavailable(exc) from exc
        return bool(subscribers)

    def close(self) -> None:
        self._subscription.close()


class CacheParty(Party):
    """A party of ``migrate --quorum`` on a ``CacheQuorum``."""

    def __init__(
        self,
        backend: CacheQuorum,
        namespace: str,
        quorum: int,
        liveness: QuorumLiveness,
    ) -> None:
        super().__init__(namespace, quorum, liveness)
        self.backend = backend
        self._prefix = backend.namespace_key_format.format(namespace=namespace)
        self._beats = 0
        self.round = 0
        self._signal = backend.signal(f"{self._prefix}:signal")
        try:
            self._join(self._current_round())
        except BaseException:
            self._signal.close()
            raise

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{self.round}:{name}"

    def _current_round(self) -> int:
        # Rounds are numbered from a random base, so that a round never reuses
        # the keys of one that expired.
        current_key = f"{self._prefix}:round"
        self.backend.add(current_key, secrets.randbits(48))
        current = self.backend.get(current_key)
        if not isinstance(current, int):
            raise self.backend.unavailable(f"get() returned {current!r}")
        return current

    def _join(self, round_number: int) -> None:
        """Join the first round, from ``round_number`` on, that is still open."""
        self.round = round_number
        while True:
            joined = self._key("joined")
            self.backend.add(joined, 0)
            try:
                position = self.backend.incr(joined)
            except ValueError as exc:
                raise self.backend.unavailable(exc) from exc
            if position < self.quorum:
                self.position = position
                return
            if position == self.quorum:
                # Held before the round is claimed, so that no party sees the
                # claim without it; a party that fails to claim the round
                # holds the name of a round that is over, which is harmless.
                self._signal.hold(self._key("applier"))
                if self.backend.add(self._key("state"), (_GO, self.identity)):
                    self.position = position
                    self.applies = True
                    self.applier = self.identity
                    self._start_next_round()
                    return
            # The round is complete, or was abandoned as this party joined.
            self.round += 1

    def _start_next_round(self) -> None:
        """Send the parties of later runs to the next round, and wake everyone."""
        self.backend.set(f"{self._prefix}:round", self.round + 1)
        self._signal.notify()

    def wait_for_quorum(self, timeout: float) -> None:
        deadline = Deadline(timeout)
        while True:
            state = self.backend.get(self._key("state"))
            if state is not None and state[0] == _GO:
                self.applier = state[1]
                return
            if deadline.expired:
                joined = self.backend.get(self._key("joined"))
                if state is not None or self.backend.add(
                    self._key("state"), (_ABANDONED, self.identity)
                ):
                    if state is None:
                        self._start_next_round()
                    raise QuorumTimeout(
                        f"Timed out after {deadline.seconds:g}s waiting for quorum "
                        f"{self.namespace!r}: {joined} of {self.quorum} parties had "
                        f"joined."
                    )
                continue  # The quorum was reached as this party gave up.
            if state is not None:
                # Another party gave up on the round: meet in the next one.
                self._join(self.round + 1)
                continue
            # Look again now and then, should a notification go astray.
            self._signal.wait(min(deadline.remaining, self.liveness.heartbeat_interval))

    def wait_for_outcome(self, timeout: float) -> None:
        deadline = Deadline(timeout)
        liveness = self.liveness
        last_beat: object = None
        last_beat_at = 0.0
        while True:
            outcome = self.backend.get(self._key("outcome"))
            if outcome is not None:
                self._raise_for(Outcome(outcome))
                return
            gone = self._signal.held(self._key("applier")) is False
            beat = self.backend.get(self._key("beat"))
            if beat != last_beat:
                last_beat, last_beat_at = beat, deadline.elapsed
            silence = deadline.elapsed - last_beat_at
            if gone or silence >= liveness.timeout:
                if self.backend.add(self._key("outcome"), Outcome.LOST.value):
                    self._signal.notify()
                    cause = (
                        "its connection to the cache closed"
                        if gone
                        else f"no heartbeat for {liveness.timeout:g}s"
                    )
                    raise self._lost(cause)
                continue  # The applying party published as it was given up.
            if deadline.expired:
                raise self._outcome_timeout(deadline)
            self._signal.wait(
                min(
                    deadline.remaining,
                    liveness.heartbeat_interval,
                    liveness.timeout - silence,
                )
            )

    def _beat(self) -> None:
        self._beats += 1
        self.backend.set(self._key("beat"), self._beats)

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(self._beat, self.liveness.heartbeat_interval)

    def _publish(self, outcome: Outcome) -> Outcome:
        key = self._key("outcome")
        if not self.backend.add(key, outcome.value):
            outcome = Outcome(self.backend.get(key) or outcome.value)
        self._signal.notify()
        return outcome

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._signal.close()
