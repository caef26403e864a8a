"""The embedded queue: coalescing, one job per company at a time, retries, and jobs left running by a
process that died."""

from __future__ import annotations

import threading
import time
from collections import Counter

import sqlalchemy as sa

from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.jobs import JobResult, JobSpec
from engine.fleet.runner import JobFailed
from engine.store import Store
from engine.store.tables import jobs


def test_a_request_for_work_already_queued_joins_the_queued_job(store: Store) -> None:
    queue = EmbeddedQueue(store)
    first = queue.defer(JobSpec("p/a", "event", "r1"))
    assert [queue.defer(JobSpec("p/a", "event", "r1")) for _ in range(499)] == [first] * 499
    other = queue.defer(JobSpec("p/a", "manual", "r1", record="42"))
    assert other != first
    listed = {job.id: job for job in queue.jobs()}
    assert listed[first].coalesced == 499 and listed[first].state == "queued"
    assert len(listed) == 2


def test_jobs_of_one_company_never_overlap_while_companies_run_side_by_side(store: Store) -> None:
    lock = threading.Lock()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    overall = {"now": 0, "peak": 0}

    def run(spec: JobSpec) -> JobResult:
        with lock:
            running[spec.lock] += 1
            overall["now"] += 1
            peak[spec.lock] = max(peak[spec.lock], running[spec.lock])
            overall["peak"] = max(overall["peak"], overall["now"])
        time.sleep(0.05)
        with lock:
            running[spec.lock] -= 1
            overall["now"] -= 1
        return JobResult()

    queue = EmbeddedQueue(store, run, workers=4)
    for n in range(6):
        queue.defer(JobSpec(f"p/{n}", "scheduled", "r1" if n % 2 else "r2"))
    queue.start()
    try:
        queue.wait_idle()
    finally:
        queue.stop()
    assert peak["realm:r1"] == 1 and peak["realm:r2"] == 1
    assert overall["peak"] == 2
    assert Counter(job.state for job in queue.jobs()) == {"done": 6}


def test_a_failure_is_retried_and_a_user_mistake_is_not(store: Store) -> None:
    calls: Counter[str] = Counter()

    def run(spec: JobSpec) -> JobResult:
        calls[spec.profile] += 1
        if spec.profile == "p/flaky" and calls[spec.profile] == 1:
            raise ConnectionError("QBO unreachable")
        if spec.profile == "p/broken":
            raise JobFailed("profile p/broken does not compile: settings.x is unknown")
        if spec.profile == "p/down":
            raise ConnectionError("still down")
        return JobResult(note="ok")

    queue = EmbeddedQueue(store, run, workers=2, retry_delay=0.0, max_attempts=3, permanent=(JobFailed,))
    for name in ("flaky", "broken", "down"):
        queue.defer(JobSpec(f"p/{name}", "scheduled", name))
    queue.start()
    try:
        queue.wait_idle()
    finally:
        queue.stop()
    by_profile = {job.spec.profile: job for job in queue.jobs()}
    assert by_profile["p/flaky"].state == "done" and by_profile["p/flaky"].attempts == 2
    assert by_profile["p/broken"].state == "failed" and by_profile["p/broken"].attempts == 1
    assert "does not compile" in (by_profile["p/broken"].error or "")
    assert by_profile["p/down"].state == "failed" and by_profile["p/down"].attempts == 3


def test_jobs_left_running_by_a_dead_process_run_again_at_start(store: Store) -> None:
    EmbeddedQueue(store).defer(JobSpec("p/a", "scheduled", "r1"))
    with store.engine.begin() as conn:  # as a process killed mid-job leaves it
        conn.execute(sa.update(jobs).values(state="running", attempts=1))
    done: list[str] = []
    queue = EmbeddedQueue(store, lambda spec: done.append(spec.profile) or JobResult(), workers=1)
    queue.start()
    try:
        queue.wait_idle()
    finally:
        queue.stop()
    assert done == ["p/a"]
    (job,) = queue.jobs()
    assert job.state == "done" and job.attempts == 2


def test_finished_jobs_and_processed_events_older_than_a_week_are_pruned(store: Store) -> None:
    import datetime as dt

    from engine.fleet.housekeeping import prune
    from engine.serve import intake

    queue = EmbeddedQueue(store)
    old, recent, waiting = (queue.defer(JobSpec(f"p/{n}", "scheduled", str(n))) for n in range(3))
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == old).values(state="done", finished_at=now - dt.timedelta(days=8)))
        conn.execute(sa.update(jobs).where(jobs.c.id == recent).values(state="failed", finished_at=now))
    first = intake.persist(store, "qbo", "a", "p/0", {"kind": "qbo"})
    intake.persist(store, "qbo", "b", "p/0", {"kind": "qbo"})  # not processed yet: kept whatever its age
    assert first is not None
    intake.mark_processed(store, first)
    assert prune(store, now + dt.timedelta(days=8)) == {"events": 1, "jobs": 2}
    assert [job.id for job in queue.jobs()] == [waiting]
    assert intake.count(store) == 1
