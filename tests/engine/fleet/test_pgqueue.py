"""The queue on PostgreSQL (procrastinate): coalescing, one job per company at a time across workers,
retries, and the jobs of a worker that died queued again."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from engine.fleet.jobs import JobResult, JobSpec
from engine.fleet.pgqueue import ProcrastinateQueue
from engine.fleet.runner import JobFailed
from engine.store import Store

pytestmark = pytest.mark.postgres


def _in_thread(work: Callable[[], object]) -> None:
    """Run ``work`` (which starts an event loop of its own) on a fresh thread: a test process may already have
    a loop running on its main thread (Playwright's, when the console's browser tests ran first)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]


def test_a_request_for_work_already_queued_joins_the_waiting_job(pg_store: Store) -> None:
    queue = ProcrastinateQueue(pg_store)
    try:
        first = queue.defer(JobSpec("p/a", "event", "r1"))
        assert [queue.defer(JobSpec("p/a", "event", "r1")) for _ in range(20)] == [first] * 20
        other = queue.defer(JobSpec("p/b", "event", "r1"))
        assert other != first
        assert sorted(j.id for j in queue.jobs(states=["queued"])) == sorted([first, other])
        assert queue.counts(["p/a", "p/b"]) == {"p/a": {"queued": 1}, "p/b": {"queued": 1}}
    finally:
        queue.close()


def test_jobs_of_one_company_run_one_at_a_time_and_failures_retry_unless_a_user_mistake(pg_store: Store) -> None:
    lock = threading.Lock()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    calls: Counter[str] = Counter()

    def run(spec: JobSpec) -> JobResult:
        calls[spec.profile] += 1
        if spec.profile == "p/broken":
            raise JobFailed("the profile does not compile")
        if spec.profile == "p/flaky" and calls[spec.profile] == 1:
            raise ConnectionError("QBO unreachable")
        with lock:
            running[spec.lock] += 1
            peak[spec.lock] = max(peak[spec.lock], running[spec.lock])
        time.sleep(0.1)
        with lock:
            running[spec.lock] -= 1
        return JobResult()

    queue = ProcrastinateQueue(pg_store, run, max_attempts=3, retry_wait=0)
    try:
        for n in range(4):
            queue.defer(JobSpec(f"p/{n}", "scheduled", "same-company"))
        queue.defer(JobSpec("p/broken", "scheduled", "r2"))
        queue.defer(JobSpec("p/flaky", "scheduled", "r3"))
        for _ in range(20):  # a worker with wait=False stops when nothing is free to take; take what is left
            _in_thread(lambda: queue.run_worker(concurrency=4, wait=False))
            if not queue.jobs(states=["queued", "retried", "running"]):
                break
        states = {j.spec.profile: (j.state, j.attempts) for j in queue.jobs()}
    finally:
        queue.close()
    assert peak["realm:same-company"] == 1
    assert states["p/broken"] == ("failed", 1)
    assert states["p/flaky"] == ("done", 2)
    assert all(states[f"p/{n}"] == ("done", 1) for n in range(4))


def test_the_job_of_a_worker_that_stopped_is_queued_again(pg_store: Store) -> None:
    queue = ProcrastinateQueue(pg_store, stalled_after=5)
    try:
        job_id = queue.defer(JobSpec("p/a", "scheduled", "r1"))
        with pg_store.engine.begin() as conn:  # as a worker SIGKILLed mid-job leaves it: doing, heartbeat gone stale
            worker = conn.execute(sa.text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                          "VALUES (now() - interval '1 hour') RETURNING id")).scalar_one()
            conn.execute(sa.text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w, attempts = 1 "
                                 "WHERE id = :id"), {"w": worker, "id": job_id})
        assert [j.state for j in queue.jobs()] == ["running"]
        _in_thread(lambda: asyncio.run(queue.retry_stalled()))
        (job,) = queue.jobs()
        assert job.id == job_id and job.state == "retried"
    finally:
        queue.close()


def test_a_stalled_job_whose_work_was_requested_again_meanwhile_is_queued_again_too(pg_store: Store) -> None:
    queue = ProcrastinateQueue(pg_store, stalled_after=5)
    try:
        stalled = queue.defer(JobSpec("p/a", "event", "r1"))
        with pg_store.engine.begin() as conn:
            worker = conn.execute(sa.text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                          "VALUES (now() - interval '1 hour') RETURNING id")).scalar_one()
            conn.execute(sa.text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w, attempts = 1 "
                                 "WHERE id = :id"), {"w": worker, "id": stalled})
        waiting = queue.defer(JobSpec("p/a", "event", "r1"))  # a webhook while the worker was dead
        assert waiting != stalled
        _in_thread(lambda: asyncio.run(queue.retry_stalled()))
        assert sorted((j.id, j.state) for j in queue.jobs()) == [(stalled, "retried"), (waiting, "queued")]
    finally:
        queue.close()


def test_the_periodic_tick_comes_every_five_seconds_all_hour_long(pg_store: Store) -> None:
    """The tick retries the jobs of dead workers and runs the scheduler: a cron that fired only in every fifth
    minute left a killed worker's company waiting for up to five minutes."""
    queue = ProcrastinateQueue(pg_store)
    (task,) = queue.app.periodic_registry.periodic_tasks.values()
    start = 1_796_200_003.0  # 3 s into a minute that is not a multiple of five
    it = task.croniter
    it.set_current(start_time=start)
    times = [it.get_next(ret_type=float) - start for _ in range(4)]
    assert times == [2.0, 7.0, 12.0, 17.0]
