"""The protocol every quorum backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from enum import Enum
from types import TracebackType

from ...conf import QuorumLiveness, quorum_liveness
from ..exceptions import ApplierLost, QuorumDissolved, QuorumError, QuorumTimeout
from ..waiting import Backoff, Deadline, party_identity

__all__ = ("LegacyParty", "Outcome", "Party", "QuorumBase")


class Outcome(Enum):
    """How a round of a quorum ended."""

    APPLIED = "applied"
    FAILED = "failed"
    LOST = "lost"


class QuorumBase(ABC):
    """A way for several parties to reach a quorum before a coordinated action.

    The protocol of django-syzygy 1.x: for a ``namespace``, ``join`` must be
    called ``quorum`` times; the call that completes the quorum returns
    ``True``. Every party whose ``join`` returned ``False`` calls ``poll``
    until it returns ``True``. A party that won't take part calls ``sever``
    instead of ``join``: the next ``poll`` of every other party raises
    ``QuorumDissolved``.

    ``migrate --quorum`` uses ``party``, which backends override to add
    heartbeats and blocking waits; the default keeps to the three methods
    above.
    """

    @abstractmethod
    def join(self, namespace: str, quorum: int) -> bool:
        """Join ``namespace`` and return whether this call completed the quorum."""

    @abstractmethod
    def sever(self, namespace: str, quorum: int) -> None:
        """Dissolve ``namespace``: make the parties polling it raise."""

    @abstractmethod
    def poll(self, namespace: str, quorum: int) -> bool:
        """Return whether ``namespace`` reached ``quorum``.

        Raise ``QuorumDissolved`` if the namespace was severed.
        """

    def party(
        self, namespace: str, quorum: int, liveness: QuorumLiveness | None = None
    ) -> Party:
        """Join a round of ``namespace`` and return this invocation's party."""
        return LegacyParty(self, namespace, quorum, liveness or quorum_liveness())


class Party(ABC):
    """One invocation's part in a round of a quorum.

    A party has joined its round when it is created. ``wait_for_quorum``
    returns once ``quorum`` parties joined; then exactly one of them
    ``applies``: it runs the plan inside ``applying()``, which heartbeats and
    publishes the outcome, while every other party waits for that outcome
    with ``wait_for_outcome``. Close the party, or use it as a context
    manager, to release what it holds; an applying party that published no
    outcome publishes a failure then.
    """

    def __init__(self, namespace: str, quorum: int, liveness: QuorumLiveness) -> None:
        self.namespace = namespace
        self.quorum = quorum
        self.liveness = liveness
        self.identity = party_identity()
        #: This party's rank of arrival in its round, if the backend knows it.
        self.position: int | None = None
        self.applies = False
        #: The applying party, once the quorum is reached, if the backend knows it.
        self.applier: str | None = None
        #: The outcome the round recorded when this party published its own.
        self.outcome: Outcome | None = None

    def _lost(self, cause: str) -> ApplierLost:
        """Return what a waiting party raises when it gives the applier up."""
        return ApplierLost(
            f"{self.applier}, which was applying the plan of quorum "
            f"{self.namespace!r}, was lost: {cause}."
        )

    def _outcome_timeout(self, deadline: Deadline) -> QuorumTimeout:
        """Return what a waiting party raises when the outcome is too late."""
        return QuorumTimeout(
            f"Timed out after {deadline.seconds:g}s waiting for "
            f"{self.applier} to apply the plan of quorum {self.namespace!r}."
        )

    def _raise_for(self, outcome: Outcome) -> None:
        """Raise what a waiting party learns from a failed or lost applier."""
        if outcome is Outcome.FAILED:
            raise QuorumDissolved(
                f"{self.applier} failed to apply the plan of quorum {self.namespace!r}."
            )
        if outcome is Outcome.LOST:
            raise ApplierLost(
                f"{self.applier}, which was applying the plan of quorum "
                f"{self.namespace!r}, was given up as lost."
            )

    @abstractmethod
    def wait_for_quorum(self, timeout: float) -> None:
        """Return once the quorum is reached.

        Raise ``QuorumTimeout`` after ``timeout`` seconds.
        """

    @abstractmethod
    def wait_for_outcome(self, timeout: float) -> None:
        """Return once the applying party has applied the plan.

        Raise ``QuorumDissolved`` if it failed, ``ApplierLost`` if it stopped
        heartbeating, and ``QuorumTimeout`` after ``timeout`` seconds.
        """

    @abstractmethod
    def _publish(self, outcome: Outcome) -> Outcome:
        """Record ``outcome`` unless the round has one; return the recorded one."""

    def _heartbeat(self) -> AbstractContextManager[object]:
        """Return the context in which the applying party heartbeats."""
        return nullcontext()

    @contextmanager
    def applying(self) -> Iterator[None]:
        """Heartbeat while the block applies the plan, then publish how it went."""
        with self._heartbeat():
            try:
                yield
            except BaseException:
                # The error of the block matters more than one publishing it.
                with suppress(QuorumError):
                    self.outcome = self._publish(Outcome.FAILED)
                raise
            self.outcome = self._publish(Outcome.APPLIED)

    def close(self) -> None:
        """Release the party; an applying party that published nothing failed."""
        if self.applies and self.outcome is None:
            with suppress(QuorumError):
                self.outcome = self._publish(Outcome.FAILED)

    def __enter__(self) -> Party:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class LegacyParty(Party):
    """A party that keeps to the 1.x protocol: ``join``, ``poll`` and ``sever``.

    Parties meet twice, as in 1.x: on ``pre:<namespace>`` before the plan is
    applied, and on ``post:<namespace>`` after. There is no heartbeat: a lost
    applying party is only noticed at the timeout.
    """

    def __init__(
        self,
        backend: QuorumBase,
        namespace: str,
        quorum: int,
        liveness: QuorumLiveness,
    ) -> None:
        super().__init__(namespace, quorum, liveness)
        self.backend = backend
        self._before = f"pre:{namespace}"
        self._after = f"post:{namespace}"
        self._timeout = 0.0
        self.applies = backend.join(self._before, quorum)
        if self.applies:
            self.position = quorum
            self.applier = self.identity

    def _poll_until(self, namespace: str, deadline: Deadline, waiting_for: str) -> None:
        backoff = Backoff()
        while not self.backend.poll(namespace, self.quorum):
            if deadline.expired:
                raise QuorumTimeout(
                    f"Timed out after {deadline.seconds:g}s waiting for "
                    f"{waiting_for} of quorum {self.namespace!r}."
                )
            backoff.wait(deadline.remaining)

    def wait_for_quorum(self, timeout: float) -> None:
        self._timeout = timeout
        if not self.applies:
            self._poll_until(self._before, Deadline(timeout), f"{self.quorum} parties")

    def wait_for_outcome(self, timeout: float) -> None:
        if not self.backend.join(self._after, self.quorum):
            self._poll_until(self._after, Deadline(timeout), "the outcome")

    def _publish(self, outcome: Outcome) -> Outcome:
        if outcome is Outcome.APPLIED:
            # Leave once every party has joined the second meeting, so that
            # its keys are cleared.
            if not self.backend.join(self._after, self.quorum):
                self._poll_until(
                    self._after, Deadline(self._timeout), "the other parties"
                )
        else:
            self.backend.sever(self._after, self.quorum)
        return outcome
