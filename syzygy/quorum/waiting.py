"""Clocks, back-off and heartbeats shared by the quorum backends."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ("Backoff", "Deadline", "Heartbeat", "party_identity")


def party_identity() -> str:
    """Return how other parties name this process in their messages."""
    return f"{socket.gethostname()} (pid {os.getpid()})"


class Deadline:
    """A time limit measured on this process's monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed)

    @property
    def expired(self) -> bool:
        return self.elapsed >= self.seconds


class Backoff:
    """Sleep a little longer at each call, from a few milliseconds up to a cap.

    Backends without a way to block until something changes poll with it:
    the first checks come quickly, and the cap bounds both the latency and
    the load a waiting party puts on the backend.
    """

    def __init__(self, first: float = 0.005, longest: float = 0.1) -> None:
        self.delay = first
        self.longest = longest

    def wait(self, timeout: float) -> None:
        """Sleep for the next delay, or ``timeout`` seconds if that is shorter."""
        time.sleep(min(self.delay, timeout))
        self.delay = min(self.delay * 2, self.longest)


class Heartbeat:
    """Call ``beat`` at once and then every ``interval`` seconds, on a thread.

    A beat that raises is skipped: the waiting parties notice missing beats,
    and the applying party must not stop applying because of them. ``close``
    runs on the thread when it stops, to release what ``beat`` opened there.
    """

    def __init__(
        self,
        beat: Callable[[], None],
        interval: float,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._beat = beat
        self._interval = interval
        self._close = close
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="syzygy-quorum-heartbeat", daemon=True
        )
        self.failures = 0

    def _run(self) -> None:
        try:
            while True:
                try:
                    self._beat()
                except Exception:
                    self.failures += 1
                if self._stopped.wait(self._interval):
                    return
        finally:
            if self._close is not None:
                self._close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()
