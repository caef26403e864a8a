"""Per-company load figures: what a client actually asked of each realm, so a test can prove it stayed under
QBO's limits (500 requests a minute, 40 batch calls a minute, 10 in flight).

The meter counts what the throttles admitted (peaks and totals) and what they refused (``throttled``).
Its sliding windows are its own, so resetting the figures never loosens the throttles themselves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["LoadMeter", "RealmLoad"]


@dataclass(frozen=True)
class RealmLoad:
    """One realm's figures since the last reset."""

    peak_in_flight: int = 0
    peak_requests_per_min: int = 0
    peak_batches_per_min: int = 0
    requests: int = 0
    batches: int = 0
    throttled: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class _Window:
    """Instants of admitted calls within the last window; its peak is the busiest window seen."""

    def __init__(self) -> None:
        self.instants: deque[datetime] = deque()
        self.peak = 0

    def add(self, now: datetime, width: timedelta) -> None:
        while self.instants and self.instants[0] <= now - width:
            self.instants.popleft()
        self.instants.append(now)
        self.peak = max(self.peak, len(self.instants))


class _Counters:
    def __init__(self) -> None:
        self.requests = _Window()
        self.batches = _Window()
        self.total = 0
        self.batch_total = 0
        self.peak_in_flight = 0
        self.throttled = 0

    def figures(self) -> RealmLoad:
        return RealmLoad(self.peak_in_flight, self.requests.peak, self.batches.peak, self.total, self.batch_total,
                         self.throttled)


class LoadMeter:
    """Counters per realm. Not thread-safe on its own: :class:`~connectors.sandbox.limits.Limits` holds its lock."""

    def __init__(self) -> None:
        self._realms: dict[str, _Counters] = {}

    def _of(self, realm_id: str) -> _Counters:
        counters = self._realms.get(realm_id)
        if counters is None:
            counters = self._realms[realm_id] = _Counters()
        return counters

    def admitted(self, realm_id: str, now: datetime, is_batch: bool, in_flight: int, width: timedelta) -> None:
        counters = self._of(realm_id)
        counters.total += 1
        counters.requests.add(now, width)
        if is_batch:
            counters.batch_total += 1
            counters.batches.add(now, width)
        counters.peak_in_flight = max(counters.peak_in_flight, in_flight)

    def refused(self, realm_id: str) -> None:
        self._of(realm_id).throttled += 1

    def report(self) -> dict[str, RealmLoad]:
        return {realm_id: counters.figures() for realm_id, counters in self._realms.items()}

    def reset(self) -> None:
        self._realms.clear()
