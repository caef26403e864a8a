"""Per-profile health for ``GET /status``, ``passerelle jobs`` and the console: last run, next run, open
errors, suspension, jobs by state. A handful of grouped queries, whatever the number of profiles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine.fleet.deployment import Deployment
from engine.fleet.jobs import JobQueue
from engine.fleet.scheduler import next_runs
from engine.store import Store
from engine.store.tables import errors, runs, suspensions

__all__ = ["fleet_status"]


def _when(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value).isoformat()


def _last_runs(conn: sa.Connection, keys: list[str]) -> dict[str, Any]:
    latest = sa.select(sa.func.max(runs.c.id)).where(runs.c.profile.in_(keys)).group_by(runs.c.profile)
    return {row.profile: row for row in conn.execute(sa.select(runs).where(runs.c.id.in_(latest)))}


def fleet_status(store: Store, deployment: Deployment, queue: JobQueue, profile: str | None = None,
                 extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    entries = deployment.entries()
    if profile is not None:
        entries = {k: v for k, v in entries.items() if k == profile}
    keys = list(entries)
    today = dt.date.today().isoformat()
    with store.engine.connect() as conn:
        last = _last_runs(conn, keys)
        open_errors: dict[str, int] = dict(conn.execute(sa.select(errors.c.profile, sa.func.count()).where(
            errors.c.profile.in_(keys), errors.c.status == "open").group_by(errors.c.profile)).all())
        conflicts: dict[str, int] = dict(conn.execute(sa.select(errors.c.profile, sa.func.count()).where(
            errors.c.profile.in_(keys), errors.c.status == "open", errors.c.fault_class == "conflict")
            .group_by(errors.c.profile)).all())
        paused = {row.profile: str(row.until) for row in conn.execute(
            sa.select(suspensions).where(suspensions.c.profile.in_(keys))) if str(row.until) > today}
    upcoming = next_runs(store)
    jobs = queue.counts(keys)
    profiles: dict[str, Any] = {}
    for key, entry in sorted(entries.items()):
        run = last.get(key)
        profiles[key] = {
            "path": str(entry.path), "realm": entry.realm, "enabled": entry.enabled, "error": entry.error,
            "every_s": entry.every, "next_run": _when(upcoming.get(key)) if entry.every and entry.enabled else None,
            "suspended_until": paused.get(key), "open_errors": int(open_errors.get(key, 0)),
            "conflicts": int(conflicts.get(key, 0)),  # open errors that wait for a decision (keep ours / take QBO's)
            "jobs": jobs.get(key, {}),
            "last_run": None if run is None else {
                "id": run.id, "kind": run.kind, "status": run.status, "started_at": _when(run.started_at),
                "finished_at": _when(run.finished_at), "progress": {"done": run.done, "total": run.total},
                "counts": run.counts or {}},
        }
    return {"profiles": profiles, **(extra or {})}
