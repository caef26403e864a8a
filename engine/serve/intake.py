"""The events table: every accepted notification is stored before it is acknowledged.

The unique (source, dedupe_key) constraint makes a redelivery a no-op; ``processed_at`` marks what the
worker finished, so after a restart the unprocessed rows are picked up again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.store import Store
from engine.store.tables import events

__all__ = ["StoredEvent", "count", "load", "mark_processed", "persist", "unprocessed"]


@dataclass(frozen=True)
class StoredEvent:
    id: int
    source: str
    dedupe_key: str
    profile: str | None
    body: Mapping[str, Any]


def persist(store: Store, source: str, dedupe_key: str, profile: str | None, body: Mapping[str, Any]) -> int | None:
    """The new row's id, or None when this event was already received (a redelivery)."""
    try:
        with store.engine.begin() as conn:
            result = conn.execute(sa.insert(events).values(source=source, dedupe_key=dedupe_key, profile=profile,
                                                           body=dict(body), received_at=dt.datetime.now(dt.UTC)))
            return int(result.inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        return None


def unprocessed(store: Store, profile: str | None = None, limit: int | None = None) -> list[StoredEvent]:
    """Rows not finished yet, oldest first (after a crash or restart; or one profile's, for its job)."""
    query = sa.select(events).where(events.c.processed_at.is_(None)).order_by(events.c.id).limit(limit)
    if profile is not None:
        query = query.where(events.c.profile == profile)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [StoredEvent(r.id, r.source, r.dedupe_key, r.profile, r.body) for r in rows]


def load(store: Store, event_id: int) -> StoredEvent | None:
    with store.engine.connect() as conn:
        r = conn.execute(sa.select(events).where(events.c.id == event_id)).first()
    return StoredEvent(r.id, r.source, r.dedupe_key, r.profile, r.body) if r else None


def mark_processed(store: Store, *event_ids: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.id.in_(event_ids)).values(processed_at=dt.datetime.now(dt.UTC)))


def count(store: Store, source: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(events)
    if source is not None:
        query = query.where(events.c.source == source)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
