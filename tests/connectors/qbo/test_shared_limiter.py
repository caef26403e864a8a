"""QBO's per-company budget shared through PostgreSQL: two limiters on their own database connections (as two
worker processes have) never exceed the concurrency cap or the per-window count together."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from connectors.qbo.config import LimitSpec
from connectors.qbo.limiter import RateLimiter
from connectors.qbo.shared_limiter import SharedLimiter, company_limiter
from engine.store import Store, open_store

pytestmark = pytest.mark.postgres

SPEC = LimitSpec(per_minute=12, batches_per_minute=4, concurrent=3, window=1.0)


def _process(store: Store) -> SharedLimiter:
    """What one process holds: its own engine and its own process-wide limiter."""
    engine = sa.create_engine(store.engine.url, pool_size=8)
    return SharedLimiter(engine, "4620816365", SPEC, local=RateLimiter(SPEC), margin=0.2)


def test_two_processes_together_stay_within_the_company_budget(pg_store: Store) -> None:
    limiters = [_process(pg_store), _process(pg_store)]
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}
    starts: list[tuple[float, bool]] = []

    def request(limiter: SharedLimiter, n: int) -> None:
        batch = n % 3 == 0
        with limiter.slot(batch):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
                starts.append((time.monotonic(), batch))
            time.sleep(0.02)
            with lock:
                state["now"] -= 1

    threads = [threading.Thread(target=request, args=(limiters[n % 2], n)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(starts) == 30
    assert state["peak"] <= SPEC.concurrent
    assert max(limiter.local.peak_in_flight for limiter in limiters) <= SPEC.concurrent
    starts.sort()
    for at, _ in starts:  # any window of the budget's length saw at most per_minute starts, and batches too
        in_window = [b for t, b in starts if at <= t < at + SPEC.window]
        assert len(in_window) <= SPEC.per_minute
        assert sum(in_window) <= SPEC.batches_per_minute
    assert sum(limiter.waited for limiter in limiters) > 0  # 30 requests at 12 a window: some had to wait
    for limiter in limiters:
        limiter.engine.dispose()


def test_a_sqlite_store_keeps_the_process_wide_limiter(tmp_path: object) -> None:
    store = open_store(f"{tmp_path}/state.db")
    assert company_limiter(store, "1") is None
    assert company_limiter(None, "1") is None
