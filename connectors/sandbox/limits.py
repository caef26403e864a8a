"""QBO's throttles per realm: 500 requests a minute, 40 batch calls a minute, 10 requests at once.

Windows slide over the injectable clock, so tests move time instead of waiting a minute. Every decision is
also counted per realm by a :class:`~connectors.sandbox.load.LoadMeter` (peaks admitted, requests refused).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from connectors.sandbox.clock import Clock
from connectors.sandbox.errors import QboError
from connectors.sandbox.load import LoadMeter, RealmLoad

__all__ = ["Limits"]

WINDOW = timedelta(minutes=1)


def _throttled(detail: str) -> QboError:
    return QboError("3001", f"The request limit was reached.  Try again later ({detail})")


class Limits:
    """Admission control; :meth:`admit` raises fault 3001 (HTTP 429) when a limit is hit."""

    def __init__(self, clock: Clock, per_minute: int, batches_per_minute: int, max_concurrent: int) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self.batches_per_minute = batches_per_minute
        self.max_concurrent = max_concurrent
        self._requests: dict[str, deque[datetime]] = {}
        self._batches: dict[str, deque[datetime]] = {}
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()
        self.meter = LoadMeter()

    @staticmethod
    def _full(window: deque[datetime], now: datetime, limit: int) -> bool:
        while window and window[0] <= now - WINDOW:
            window.popleft()
        return len(window) >= limit

    def admit(self, realm_id: str, is_batch: bool) -> None:
        """Count one request in; the caller must call :meth:`release` when it ends."""
        now = self.clock.now()
        with self._lock:
            try:
                self._check(realm_id, now, is_batch)
            except QboError:
                self.meter.refused(realm_id)
                raise
            active = self._active[realm_id] = self._active.get(realm_id, 0) + 1
            self.meter.admitted(realm_id, now, is_batch, active, WINDOW)

    def _check(self, realm_id: str, now: datetime, is_batch: bool) -> None:
        if self._active.get(realm_id, 0) >= self.max_concurrent:
            raise _throttled(f"more than {self.max_concurrent} concurrent requests")
        requests = self._requests.setdefault(realm_id, deque())
        if self._full(requests, now, self.per_minute):
            raise _throttled(f"more than {self.per_minute} requests per minute")
        if is_batch:
            batches = self._batches.setdefault(realm_id, deque())
            if self._full(batches, now, self.batches_per_minute):
                raise _throttled(f"more than {self.batches_per_minute} batch requests per minute")
            batches.append(now)
        requests.append(now)

    def release(self, realm_id: str) -> None:
        with self._lock:
            self._active[realm_id] = max(0, self._active.get(realm_id, 0) - 1)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._batches.clear()

    def load_report(self) -> dict[str, RealmLoad]:
        """Each realm's peaks and totals since the last :meth:`reset_load`."""
        with self._lock:
            return self.meter.report()

    def reset_load(self) -> dict[str, RealmLoad]:
        """Zero the figures (the throttle windows are kept); returns the figures as they were."""
        with self._lock:
            report = self.meter.report()
            self.meter.reset()
            return report
