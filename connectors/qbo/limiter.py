"""A per-company rate limiter: 500 requests a minute, 40 batch calls a minute, 10 in flight.

One :class:`RateLimiter` exists per realm in a process (:func:`limiter_for`), so every client, thread
and flow working on one company shares it. Windows slide over the last minute. After a 429 the whole
company pauses (:meth:`RateLimiter.pause`), so ten threads do not hammer a throttled company in turn.

Time is injectable (``monotonic`` and ``sleep``) so tests run in microseconds. These limits are per
process; with a PostgreSQL state store, :mod:`connectors.qbo.shared_limiter` adds the budget that every
process shares, and QBO's own 429 (handled by the retry layer) stays the backstop.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from connectors.qbo.config import LimitSpec

__all__ = ["Limiter", "RateLimiter", "SlotMixin", "forget_limiters", "limiter_for"]


class Limiter(Protocol):
    """What the client needs of a company's budget: a slot per request, and a pause after a 429."""

    def slot(self, is_batch: bool = False) -> AbstractContextManager[None]: ...

    def pause(self, seconds: float) -> None: ...


class SlotMixin:
    """``slot()`` for a limiter with ``acquire``/``release``: one request's admission as a ``with`` block."""

    def acquire(self, is_batch: bool = False) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    @contextmanager
    def slot(self, is_batch: bool = False) -> Iterator[None]:
        self.acquire(is_batch)
        try:
            yield
        finally:
            self.release()


class RateLimiter(SlotMixin):
    """Admission control for one company."""

    def __init__(self, spec: LimitSpec | None = None, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec or LimitSpec()
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.spec.concurrent)
        self._requests: deque[float] = deque()
        self._batches: deque[float] = deque()
        self._paused_until = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.waited = 0.0  # total seconds callers spent waiting for the window (for tests and progress)

    def _prune(self, now: float) -> None:
        horizon = now - self.spec.window
        for window in (self._requests, self._batches):
            while window and window[0] <= horizon:
                window.popleft()

    def _wait_time(self, now: float, is_batch: bool) -> float:
        """0 when a request may start now, else how long until it may."""
        self._prune(now)
        waits = [self._paused_until - now]
        if len(self._requests) >= self.spec.per_minute:
            waits.append(self._requests[0] + self.spec.window - now)
        if is_batch and len(self._batches) >= self.spec.batches_per_minute:
            waits.append(self._batches[0] + self.spec.window - now)
        return max(0.0, *waits)

    def acquire(self, is_batch: bool = False) -> None:
        """Block until one request may start; pair with :meth:`release`."""
        self._slots.acquire()
        try:
            while True:
                with self._lock:
                    now = self._monotonic()
                    wait = self._wait_time(now, is_batch)
                    if wait <= 0:
                        self._requests.append(now)
                        if is_batch:
                            self._batches.append(now)
                        self.in_flight += 1
                        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                        return
                    self.waited += wait
                self._sleep(wait)
        except BaseException:
            self._slots.release()
            raise

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
        self._slots.release()

    def pause(self, seconds: float) -> None:
        """Hold every request to this company for ``seconds`` (after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def counts(self) -> tuple[int, int]:
        """Requests and batch calls in the current window."""
        with self._lock:
            self._prune(self._monotonic())
            return len(self._requests), len(self._batches)


_LIMITERS: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(realm_id: str, spec: LimitSpec | None = None, **timing: Callable[..., object]) -> RateLimiter:
    """The process-wide limiter of a company (created on first use with ``spec``)."""
    with _REGISTRY_LOCK:
        limiter = _LIMITERS.get(realm_id)
        if limiter is None:
            limiter = _LIMITERS[realm_id] = RateLimiter(spec, **timing)  # type: ignore[arg-type]
        return limiter


def forget_limiters() -> None:
    """Drop every shared limiter (tests)."""
    with _REGISTRY_LOCK:
        _LIMITERS.clear()
