"""The embedded job queue: the state store's ``jobs`` table worked by threads of the one service process.

It is the default with a SQLite store, where one process owns the store and nothing else is installed.
Jobs of one QBO company run one at a time (their ``lock`` is held in this process); a request for work
already queued joins the queued job; a failed job is queued again (``retried``) after a delay that grows
with each attempt, up to ``max_attempts``; jobs left ``running`` by a process that died are queued again
at the next start (the outbox makes their writes safe to resend).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from engine.fleet.jobs import JobInfo, JobResult, JobSpec
from engine.store import Store
from engine.store.tables import jobs

__all__ = ["EmbeddedQueue"]

log = logging.getLogger("passerelle.fleet")

Run = Callable[[JobSpec], JobResult]
WAITING = ("queued", "retried")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes; every time here is UTC."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _info(row: Any) -> JobInfo:
    return JobInfo(id=row.id, spec=JobSpec(row.profile, row.kind, row.realm, row.record), state=row.state,
                   attempts=row.attempts, coalesced=row.coalesced, queued_at=_aware(row.queued_at),
                   started_at=_aware(row.started_at), finished_at=_aware(row.finished_at), error=row.error)


class EmbeddedQueue:
    def __init__(self, store: Store, run: Run | None = None, *, workers: int = 4, max_attempts: int = 3,
                 retry_delay: float = 5.0, permanent: tuple[type[BaseException], ...] = ()) -> None:
        self.store, self.run = store, run
        self.workers, self.max_attempts, self.retry_delay = workers, max_attempts, retry_delay
        self.permanent = permanent
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._busy: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running = 0

    # -- JobQueue --------------------------------------------------------------------------------
    def defer(self, spec: JobSpec, *, delay: float = 0.0) -> int:
        key = spec.coalesce_key
        with self._lock, self.store.engine.begin() as conn:
            waiting = conn.execute(sa.select(jobs.c.id).where(jobs.c.coalesce_key == key, jobs.c.state.in_(WAITING))
                                   .order_by(jobs.c.id).limit(1)).scalar()
            if waiting is not None:
                conn.execute(sa.update(jobs).where(jobs.c.id == waiting).values(coalesced=jobs.c.coalesced + 1))
                return int(waiting)
            job_id = conn.execute(sa.insert(jobs).values(
                profile=spec.profile, realm=spec.realm, kind=spec.kind, record=spec.record, coalesce_key=key,
                state="queued", attempts=0, coalesced=0, queued_at=_now(),
                not_before=_now() + dt.timedelta(seconds=delay) if delay else None)).inserted_primary_key[0]  # type: ignore[index]
            self._wake.notify()
            return int(job_id)

    def jobs(self, *, profile: str | None = None, states: Sequence[str] = (), limit: int = 200) -> list[JobInfo]:
        query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if profile is not None:
            query = query.where(jobs.c.profile == profile)
        if states:
            query = query.where(jobs.c.state.in_(list(states)))
        with self.store.engine.connect() as conn:
            return [_info(row) for row in conn.execute(query)]

    def counts(self, profiles: Sequence[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self.store.engine.connect() as conn:
            for row in conn.execute(sa.select(jobs.c.profile, jobs.c.state, sa.func.count()).where(
                    jobs.c.profile.in_(list(profiles))).group_by(jobs.c.profile, jobs.c.state)):
                out.setdefault(row[0], {})[row[1]] = int(row[2])
        return out

    def close(self) -> None:
        self.stop()

    # -- the workers -----------------------------------------------------------------------------
    def start(self) -> None:
        with self.store.engine.begin() as conn:  # a previous process died with these under way
            conn.execute(sa.update(jobs).where(jobs.c.state == "running").values(state="retried", not_before=None))
        self._stop.clear()
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"passerelle-job-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        with self._lock:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = []

    def idle(self) -> bool:
        """Nothing running and nothing waiting (tests and graceful shutdown)."""
        with self._lock:
            return self._idle_locked()

    def _idle_locked(self) -> bool:
        with self.store.engine.connect() as conn:
            waiting = conn.execute(sa.select(sa.func.count()).select_from(jobs)
                                   .where(jobs.c.state.in_(WAITING))).scalar_one()
        return self._running == 0 and waiting == 0

    def wait_idle(self) -> None:
        """Block until nothing runs and nothing waits: woken each time a job ends (no clock involved)."""
        with self._lock:
            while not self._idle_locked():
                self._wake.wait(timeout=0.5)  # a retried job's wait ends without a notification

    def _claim(self) -> tuple[int, JobSpec] | None:
        now = _now()
        with self.store.engine.begin() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.state.in_(WAITING)).order_by(jobs.c.id).limit(200)).all()
            for row in rows:
                spec = JobSpec(row.profile, row.kind, row.realm, row.record)
                not_before = _aware(row.not_before)
                if spec.lock in self._busy or (not_before is not None and not_before > now):
                    continue
                conn.execute(sa.update(jobs).where(jobs.c.id == row.id).values(
                    state="running", started_at=now, finished_at=None, attempts=jobs.c.attempts + 1))
                self._busy.add(spec.lock)
                self._running += 1
                return int(row.id), spec
        return None

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                claimed = self._claim()
                if claimed is None:
                    self._wake.wait(timeout=0.5)
                    continue
            job_id, spec = claimed
            try:
                self._execute(job_id, spec)
            finally:
                with self._lock:
                    self._busy.discard(spec.lock)
                    self._running -= 1
                    self._wake.notify_all()

    def _execute(self, job_id: int, spec: JobSpec) -> None:
        assert self.run is not None, "a queue without a runner only takes jobs"
        try:
            result = self.run(spec)
        except Exception as exc:
            self._failed(job_id, spec, exc)
            return
        with self.store.engine.begin() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
                state="done", finished_at=_now(), error=None, result=result.to_json()))

    def _failed(self, job_id: int, spec: JobSpec, exc: Exception) -> None:
        with self.store.engine.connect() as conn:
            attempts = int(conn.execute(sa.select(jobs.c.attempts).where(jobs.c.id == job_id)).scalar_one())
        final = isinstance(exc, self.permanent) or attempts >= self.max_attempts
        if not final:
            log.warning("job %s (%s of %s) failed, will retry: %s", job_id, spec.kind, spec.profile, exc)
        else:
            log.error("job %s (%s of %s) failed: %s", job_id, spec.kind, spec.profile, exc)
        values: dict[str, Any] = {"error": str(exc)[:2000], "finished_at": _now()}
        if final:
            values["state"] = "failed"
        else:
            values.update(state="retried", not_before=_now() + dt.timedelta(seconds=self.retry_delay * attempts))
        with self.store.engine.begin() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values))
