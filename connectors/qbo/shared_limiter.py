"""QBO's per-company budget shared by every process that talks to the company (the fleet's workers,
the CLI, the service), kept in the state store's PostgreSQL database.

- **In flight**: a request holds one of ``concurrent`` advisory locks keyed by the company
  (``pg_try_advisory_lock(hashtext(realm), slot)``) on its own connection for as long as it runs. A
  process killed mid-request loses its connection, and PostgreSQL frees the lock at once.
- **Per minute**: every admitted request is a row of ``qbo_budget`` stamped with the database's
  clock (one clock for every machine); admission counts the rows of the last window under a
  transaction-scoped advisory lock, so two processes cannot both take the last place.

The window is kept ``margin`` seconds longer than QBO's minute, because QBO counts a request when it
arrives, a little after the stamp taken here. The process-wide :class:`RateLimiter` still runs first,
so threads of one process queue locally before asking the database.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from connectors.qbo.config import LimitSpec
from connectors.qbo.limiter import RateLimiter, SlotMixin, limiter_for

__all__ = ["SharedLimiter", "company_limiter", "shared_limiter_for"]

_ADMIT = sa.text("""
    WITH recent AS (
        SELECT at, batch FROM qbo_budget
         WHERE realm = :realm AND at > clock_timestamp() - make_interval(secs => :window))
    SELECT count(*) AS requests, count(*) FILTER (WHERE batch) AS batches,
           EXTRACT(EPOCH FROM clock_timestamp() - min(at)) AS oldest,
           EXTRACT(EPOCH FROM clock_timestamp() - min(at) FILTER (WHERE batch)) AS oldest_batch
      FROM recent""")


class SharedLimiter(SlotMixin):
    """The same interface as :class:`RateLimiter`, enforced across processes through the database."""

    def __init__(self, engine: sa.Engine, realm_id: str, spec: LimitSpec | None = None, *,
                 local: RateLimiter | None = None, margin: float = 1.0, poll: float = 0.05,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine, self.realm_id = engine, realm_id
        self.spec = spec or LimitSpec()
        self.local = local or RateLimiter(self.spec)
        self.window = self.spec.window + margin
        self._poll, self._sleep = poll, sleep
        self._held = threading.local()
        self._lock = threading.Lock()
        self.waited = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0

    # -- the two budgets -------------------------------------------------------------------------
    def _take_slot(self, conn: sa.Connection) -> int:
        slots = list(range(self.spec.concurrent))
        while True:
            random.shuffle(slots)
            for slot in slots:
                if conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtext(:realm), :slot)"),
                                {"realm": self.realm_id, "slot": slot}).scalar():
                    conn.commit()
                    return slot
            conn.commit()
            self._wait(self._poll)

    def _admit(self, conn: sa.Connection, is_batch: bool) -> None:
        while True:
            with conn.begin():
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('qbo-budget:' || :realm))"),
                             {"realm": self.realm_id})
                row = conn.execute(_ADMIT, {"realm": self.realm_id, "window": self.window}).one()
                waits = []
                if row.requests >= self.spec.per_minute:
                    waits.append(self.window - float(row.oldest))
                if is_batch and row.batches >= self.spec.batches_per_minute:
                    waits.append(self.window - float(row.oldest_batch))
                if not waits:
                    conn.execute(sa.text("INSERT INTO qbo_budget (realm, at, batch) VALUES (:realm, clock_timestamp(), "
                                         ":batch)"), {"realm": self.realm_id, "batch": is_batch})
                    if random.random() < 0.02:  # keep the table small: forget what no window can see
                        conn.execute(sa.text("DELETE FROM qbo_budget WHERE realm = :realm AND "
                                             "at < clock_timestamp() - make_interval(secs => :window)"),
                                     {"realm": self.realm_id, "window": self.window * 2})
                    return
            self._wait(max(self._poll, min(waits)))

    def _wait(self, seconds: float) -> None:
        with self._lock:
            self.waited += seconds
        self._sleep(seconds)

    # -- RateLimiter's interface -----------------------------------------------------------------
    def acquire(self, is_batch: bool = False) -> None:
        self.local.acquire(is_batch)
        conn = None
        try:
            conn = self.engine.connect()
            slot = self._take_slot(conn)
            try:
                self._admit(conn, is_batch)
            except BaseException:
                self._unlock(conn, slot)
                raise
        except BaseException:
            if conn is not None:
                conn.close()
            self.local.release()
            raise
        stack = getattr(self._held, "stack", None)
        if stack is None:
            stack = self._held.stack = []
        stack.append((conn, slot))
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _unlock(self, conn: sa.Connection, slot: int) -> None:
        conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:realm), :slot)"),
                     {"realm": self.realm_id, "slot": slot})
        conn.commit()

    def release(self) -> None:
        conn, slot = self._held.stack.pop()
        try:
            self._unlock(conn, slot)
        finally:
            conn.close()
            with self._lock:
                self.in_flight -= 1
            self.local.release()

    def pause(self, seconds: float) -> None:
        self.local.pause(seconds)

    def counts(self) -> tuple[int, int]:
        """Requests and batch calls in the current window, as every process sees them."""
        with self.engine.connect() as conn:
            row = conn.execute(_ADMIT, {"realm": self.realm_id, "window": self.window}).one()
        return int(row.requests), int(row.batches)


_SHARED: dict[tuple[str, str], SharedLimiter] = {}
_ENGINES: dict[str, sa.Engine] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiter_for(url: str, realm_id: str, spec: LimitSpec | None = None) -> SharedLimiter:
    """The process's shared limiter of a company on the database at ``url`` (a PostgreSQL URL)."""
    with _REGISTRY_LOCK:
        limiter = _SHARED.get((url, realm_id))
        if limiter is None:
            engine = _ENGINES.get(url)
            if engine is None:
                spec_ = spec or LimitSpec()
                engine = _ENGINES[url] = sa.create_engine(url, pool_size=spec_.concurrent + 2, max_overflow=20,
                                                          pool_pre_ping=True)
            limiter = _SHARED[(url, realm_id)] = SharedLimiter(engine, realm_id, spec,
                                                               local=limiter_for(realm_id, spec))
        return limiter


def company_limiter(store: object | None, realm_id: str, spec: LimitSpec | None = None) -> SharedLimiter | None:
    """The shared budget when the state store is PostgreSQL; None (the process-wide limiter) otherwise."""
    url = getattr(store, "url", "")
    if not isinstance(url, str) or not url.startswith("postgresql"):
        return None
    return shared_limiter_for(url, realm_id, spec)
