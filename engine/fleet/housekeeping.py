"""Keeping the store's size flat under a service that never stops: finished jobs and processed events
are kept a week (what `passerelle jobs` and the console show), then deleted. Runs, the error history,
the ledger and the outbox are the record of what was written, and are never pruned here."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.store import Store
from engine.store.tables import events, jobs

__all__ = ["KEEP", "prune"]

KEEP = dt.timedelta(days=7)


def prune(store: Store, now: dt.datetime | None = None, keep: dt.timedelta = KEEP) -> dict[str, int]:
    cutoff = (now or dt.datetime.now(dt.UTC)) - keep
    with store.engine.begin() as conn:
        done_events = conn.execute(sa.delete(events).where(events.c.processed_at.is_not(None),
                                                           events.c.processed_at < cutoff)).rowcount
        done_jobs = conn.execute(sa.delete(jobs).where(jobs.c.state.in_(["done", "failed"]),
                                                       jobs.c.finished_at < cutoff)).rowcount
    return {"events": int(done_events or 0), "jobs": int(done_jobs or 0)}
