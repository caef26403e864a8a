"""Suspensions (G9): automatic syncs of a profile pause until a date; a date in the past resumes."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.store import Store
from engine.store.tables import suspensions

__all__ = ["resume", "suspend", "suspended_until"]


def suspend(store: Store, profile: str, until: str) -> None:
    dt.date.fromisoformat(until)  # validated by the caller; a bad date must never be stored
    with store.engine.begin() as conn:
        conn.execute(sa.delete(suspensions).where(suspensions.c.profile == profile))
        conn.execute(sa.insert(suspensions).values(profile=profile, until=until, updated_at=dt.datetime.now(dt.UTC)))


def resume(store: Store, profile: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.delete(suspensions).where(suspensions.c.profile == profile))


def suspended_until(store: Store, profile: str, today: str) -> str | None:
    """The date automatic syncs resume, or None when they are not suspended (a past date is not)."""
    with store.engine.connect() as conn:
        until = conn.execute(sa.select(suspensions.c.until).where(suspensions.c.profile == profile)).scalar()
    return str(until) if until and str(until) > today else None
