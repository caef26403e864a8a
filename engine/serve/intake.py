"""The events table: every accepted notification is stored before it is acknowledged.

The unique (source, dedupe_key) constraint makes a redelivery a no-op; ``processed_at`` marks what the
worker finished, so after a restart the unprocessed rows are picked up again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.store import Store
from engine.store.tables import events

__all__ = ["NewEvent", "StoredEvent", "count", "load", "mark_processed", "persist", "persist_many", "unprocessed"]


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


@dataclass(frozen=True)
class NewEvent:
    source: str
    dedupe_key: str
    profile: str | None
    body: Mapping[str, Any]


_KEYS_PER_QUERY = 400  # under SQLite's bound-parameter limit


def persist_many(store: Store, new: Sequence[NewEvent]) -> list[int | None]:
    """Each event's new row id, or None for a redelivery (of an earlier body, or earlier in this one), stored in
    one transaction of a few statements: a body of thousands of events is acknowledged in well under a second.
    Should another process store one of the keys meanwhile, the body is stored again event by event."""
    if not new:
        return []
    try:
        with store.engine.begin() as conn:
            held: set[tuple[str, str]] = set()
            for source in {e.source for e in new}:
                keys = list({e.dedupe_key for e in new if e.source == source})
                for start in range(0, len(keys), _KEYS_PER_QUERY):
                    held.update((source, str(k)) for (k,) in conn.execute(sa.select(events.c.dedupe_key).where(
                        events.c.source == source, events.c.dedupe_key.in_(keys[start:start + _KEYS_PER_QUERY]))))
            fresh: dict[tuple[str, str], int] = {}
            for index, event in enumerate(new):
                key = (event.source, event.dedupe_key)
                if key not in held and key not in fresh:
                    fresh[key] = index
            if not fresh:
                return [None] * len(new)
            now = dt.datetime.now(dt.UTC)
            rows = [{"source": new[i].source, "dedupe_key": new[i].dedupe_key, "profile": new[i].profile,
                     "body": dict(new[i].body), "received_at": now} for i in fresh.values()]
            ids = conn.execute(sa.insert(events).returning(events.c.id, events.c.source, events.c.dedupe_key),
                               rows).all()
    except IntegrityError:
        return [persist(store, e.source, e.dedupe_key, e.profile, e.body) for e in new]
    by_key = {(str(source), str(key)): int(str(row_id)) for row_id, source, key in ids}
    out: list[int | None] = [None] * len(new)
    for key, index in fresh.items():
        out[index] = by_key[key]
    return out


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
