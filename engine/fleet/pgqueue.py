"""The job queue on PostgreSQL: procrastinate, on the state store's own database.

Each job is a procrastinate job of the task ``passerelle.job`` with the spec as arguments:

- ``lock`` = the QBO company: procrastinate never runs two jobs with one lock at once, on any worker;
- ``queueing_lock`` = the coalesce key: a second request while one is waiting raises ``AlreadyEnqueued``,
  and the waiting job's id is returned instead (a burst of webhooks makes a handful of jobs);
- retries with a growing wait for failures a retry can fix (never for :class:`JobFailed`);
- a periodic task ``passerelle.tick`` (every 5 s; procrastinate defers each tick once for all workers)
  runs the scheduler and puts the jobs of workers that stopped sending heartbeats (killed, or their
  machine gone) back in the queue. Their writes went through the outbox, so the retry resends nothing
  that QBO already has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import procrastinate
import sqlalchemy as sa
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision, RetryStrategy

from engine.fleet.housekeeping import KEEP, prune
from engine.fleet.jobs import JobInfo, JobSpec
from engine.fleet.runner import JobFailed
from engine.store import Store

__all__ = ["QUEUE", "ProcrastinateQueue", "conninfo"]

log = logging.getLogger("passerelle.fleet")

QUEUE = "passerelle"
TASK = "passerelle.job"
TICK = "passerelle.tick"
# croniter reads a sixth field as seconds: every 5 s ("*/5 * * * * *" would be every second of every fifth minute).
TICK_CRON = "* * * * * */5"
_STATES = {"todo": "queued", "doing": "running", "succeeded": "done", "failed": "failed", "cancelled": "failed",
           "aborting": "running", "aborted": "failed"}


def conninfo(store: Store) -> str:
    """The libpq URL of the store (procrastinate speaks psycopg directly)."""
    return store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Retry(RetryStrategy):
    """Retry what a retry can fix; a user mistake (JobFailed) fails at once."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, JobFailed):
            return None
        return super().get_retry_decision(exception=exception, job=job)


_JOBS = sa.text("""
    SELECT j.id, j.status, j.attempts, j.args,
           (SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'deferred') AS queued_at,
           (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started') AS started_at,
           (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id
             AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) AS finished_at
      FROM procrastinate_jobs j
     WHERE j.task_name = :task AND (CAST(:profile AS text) IS NULL OR j.args->>'profile' = :profile)
       AND (CAST(:any_state AS boolean) OR
            CASE WHEN j.status = 'todo' AND j.attempts > 0 THEN 'retried'
                 WHEN j.status = 'todo' THEN 'queued'
                 WHEN j.status IN ('doing', 'aborting') THEN 'running'
                 WHEN j.status = 'succeeded' THEN 'done'
                 ELSE 'failed' END = ANY(:states))
     ORDER BY j.id DESC LIMIT :limit""")


class ProcrastinateQueue:
    """``run`` carries out one job (the worker side); ``tick`` is the periodic scheduler step."""

    def __init__(self, store: Store, run: Callable[[JobSpec], object] | None = None,
                 tick: Callable[[], None] | None = None, *, max_attempts: int = 3, retry_wait: int = 5,
                 stalled_after: float = 15.0) -> None:
        self.store = store
        self.stalled_after = stalled_after
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(store)))
        # Deferring is synchronous (request handlers, the scheduler, jobs re-queueing a backlog), from any
        # thread: it has an app and a pool of its own, apart from the worker's event loop.
        self._deferrer = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(
            conninfo=conninfo(store), min_size=1, max_size=4))
        self._run, self._tick = run, tick
        self._opened = False

        @self.app.task(name=TASK, queue=QUEUE, retry=_Retry(max_attempts=max_attempts, linear_wait=retry_wait))
        def job(profile: str, kind: str, realm: str | None = None, record: str | None = None) -> Any:
            if self._run is None:
                raise RuntimeError("this process only defers jobs")
            result = self._run(JobSpec(profile, kind, realm, record))
            return getattr(result, "to_json", lambda: None)()

        @self.app.periodic(cron=TICK_CRON, periodic_id="tick")
        @self.app.task(name=TICK, queue=QUEUE, lock="passerelle-tick", queueing_lock="passerelle-tick",
                       pass_context=True)
        async def periodic_tick(context: Any, timestamp: int) -> None:
            await self._retry_stalled()
            if timestamp % 3600 < 5:  # once an hour: finished jobs older than a week go
                await self.app.job_manager.delete_old_jobs(nb_hours=int(KEEP.total_seconds() // 3600),
                                                           queue=QUEUE, include_failed=True)
                await asyncio.to_thread(prune, self.store)
            if self._tick is not None:
                await asyncio.to_thread(self._tick)


    # -- set-up ----------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create procrastinate's tables on first use (its schema is applied once per database)."""
        with self.store.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('passerelle-procrastinate-schema'))"))
            exists = conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar()
            if not exists:  # the driver's own execute: the schema's text is not a parameterised query
                conn.connection.driver_connection.execute(self.app.schema_manager.get_schema())  # type: ignore[union-attr]

    def _open(self) -> None:
        if not self._opened:
            self.ensure_schema()
            self._deferrer.open()
            self._opened = True

    # -- JobQueue --------------------------------------------------------------------------------
    def defer(self, spec: JobSpec, *, delay: float = 0.0) -> int:
        self._open()
        deferrer = self._deferrer.configure_task(TASK, queue=QUEUE, lock=spec.lock, queueing_lock=spec.coalesce_key,
                                                 schedule_in={"seconds": delay} if delay else None)
        try:
            return int(deferrer.defer(**spec.to_json()))
        except AlreadyEnqueued:
            waiting = self._deferrer.job_manager.list_jobs(queueing_lock=spec.coalesce_key, status="todo")
            if waiting and waiting[0].id is not None:
                return int(waiting[0].id)
            return self.defer(spec, delay=delay)  # it started in between: queue a new one

    def jobs(self, *, profile: str | None = None, states: Sequence[str] = (), limit: int = 200) -> list[JobInfo]:
        self.ensure_schema()
        with self.store.engine.connect() as conn:
            rows = conn.execute(_JOBS, {"task": TASK, "profile": profile, "limit": limit, "any_state": not states,
                                        "states": list(states)}).all()
        out = []
        for row in rows:
            state = _STATES.get(row.status, row.status)
            if state == "queued" and row.attempts:
                state = "retried"
            out.append(JobInfo(id=row.id, spec=JobSpec.from_json(row.args), state=state, attempts=row.attempts,
                               queued_at=row.queued_at, started_at=row.started_at, finished_at=row.finished_at))
        return out

    def counts(self, profiles: Sequence[str]) -> dict[str, dict[str, int]]:
        self.ensure_schema()
        out: dict[str, dict[str, int]] = {}
        query = sa.text("SELECT args->>'profile' AS profile, status, attempts > 0 AS retried, count(*) AS n "
                        "FROM procrastinate_jobs WHERE task_name = :task AND args->>'profile' = ANY(:profiles) "
                        "GROUP BY 1, 2, 3")
        with self.store.engine.connect() as conn:
            for row in conn.execute(query, {"task": TASK, "profiles": list(profiles)}):
                state = _STATES.get(row.status, row.status)
                state = "retried" if state == "queued" and row.retried else state
                counts = out.setdefault(row.profile, {})
                counts[state] = counts.get(state, 0) + int(row.n)
        return out

    def close(self) -> None:
        if self._opened:
            self._deferrer.close()
            self._opened = False

    # -- the worker side -------------------------------------------------------------------------
    async def _retry_stalled(self) -> None:
        for job in await self.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after):
            log.warning("job %s was running on a worker that stopped; queued again", job.id)
            try:
                await self.app.job_manager.retry_job(job)
            except UniqueViolation:
                # A request for the same work came in meanwhile and waits under the same queueing lock; the
                # stalled job runs again without it (the two run one after the other under the company lock,
                # and the second finds nothing left to write).
                await self.app.connector.execute_query_async(
                    "UPDATE procrastinate_jobs SET queueing_lock = NULL WHERE id = %(id)s", id=job.id)
                await self.app.job_manager.retry_job(job)

    def run_worker(self, *, concurrency: int = 1, name: str | None = None, heartbeat: float = 2.0,
                   wait: bool = True) -> None:
        """Work until stopped (SIGINT/SIGTERM finish the running job first); ``wait=False`` returns once the
        queue is empty."""
        self.ensure_schema()
        self.app.run_worker(queues=[QUEUE], concurrency=concurrency, name=name, wait=wait,
                            update_heartbeat_interval=heartbeat, stalled_worker_timeout=self.stalled_after,
                            install_signal_handlers=wait)

    async def retry_stalled(self) -> None:
        """Queue again the jobs of workers that stopped sending heartbeats (what the periodic tick does)."""
        async with self.app.open_async():
            await self._retry_stalled()
