"""Schedules to jobs: each profile's automatic sync is due every ``schedule.every`` (pack or profile).

A tick defers a ``scheduled`` job for every due profile and moves its ``next_run_at`` on. The move is a
conditional update (``WHERE next_run_at = <what was read>``), so two schedulers ticking at once (two
service processes, or two workers' periodic tasks) defer each run once. A profile switched off
(``enabled: false``), suspended (G9), without a schedule or not connected to a company gets no job, and
neither does one whose pack wants its first sync launched by hand (``first_sync: manual``, G5) until a
sync of it has completed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.fleet.deployment import Deployment, Entry
from engine.fleet.jobs import JobQueue, JobSpec
from engine.store import Store
from engine.store.tables import runs, schedules, suspensions

__all__ = ["TickReport", "next_runs", "synced_once", "tick"]


@dataclass(frozen=True)
class TickReport:
    deferred: tuple[str, ...] = ()
    suspended: tuple[str, ...] = ()


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def next_runs(store: Store) -> dict[str, dt.datetime]:
    with store.engine.connect() as conn:
        return {row.profile: _aware(row.next_run_at) for row in conn.execute(sa.select(schedules))}


def _suspended(store: Store, today: str) -> Mapping[str, str]:
    with store.engine.connect() as conn:
        return {row.profile: str(row.until) for row in conn.execute(sa.select(suspensions))
                if str(row.until) > today}


def synced_once(store: Store, profiles: list[str]) -> set[str]:
    """The profiles with at least one completed run: their first sync is behind them."""
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(runs.c.profile).where(runs.c.profile.in_(profiles), runs.c.status == "done")
                                .distinct()).scalars())


def _claim(store: Store, entry: Entry, seen: dt.datetime | None, now: dt.datetime) -> bool:
    """Move the profile's next run on; True when this caller won the run."""
    assert entry.every is not None
    later = now + dt.timedelta(seconds=entry.every)
    with store.engine.begin() as conn:
        if seen is None:
            try:
                conn.execute(sa.insert(schedules).values(profile=entry.key, next_run_at=later, last_deferred_at=now))
            except IntegrityError:
                return False
            return True
        result = conn.execute(sa.update(schedules).where(schedules.c.profile == entry.key,
                                                         schedules.c.next_run_at == seen)
                              .values(next_run_at=later, last_deferred_at=now))
        return result.rowcount == 1


def tick(store: Store, deployment: Deployment, queue: JobQueue, now: dt.datetime | None = None) -> TickReport:
    """Defer the due automatic syncs; a profile seen for the first time is due at once."""
    now = now or dt.datetime.now(dt.UTC)
    with store.engine.connect() as conn:
        raw = {row.profile: row.next_run_at for row in conn.execute(sa.select(schedules))}
    paused = _suspended(store, now.date().isoformat())
    deferred: list[str] = []
    suspended: list[str] = []
    entries = [e for e in deployment.runnable() if e.enabled and e.every is not None and e.realm]
    waiting = [e.key for e in entries if e.first_sync_manual]
    launched = synced_once(store, waiting) if waiting else set()
    for entry in entries:
        if entry.first_sync_manual and entry.key not in launched:
            continue
        if entry.key in paused:
            suspended.append(entry.key)
            continue
        when = raw.get(entry.key)
        if when is not None and _aware(when) > now:
            continue
        if _claim(store, entry, raw.get(entry.key), now):
            queue.defer(JobSpec(entry.key, "scheduled", entry.realm))
            deferred.append(entry.key)
    return TickReport(tuple(deferred), tuple(suspended))
