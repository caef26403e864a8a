"""Change-data-capture catch-up: what changed in QBO since the stored cursor becomes events, so a
notification that never arrived (server down, delivery dropped) is never a lost change.

QBO keeps 30 days of changes; an older cursor is a gap CDC cannot fill: it is reported (log and
``/status``) with a full re-read offered (``passerelle sync PROFILE``), and the sweep reads the 30 days
it can.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from engine.serve.events import QboEvent
from engine.serve.profiles import Served
from engine.store.tables import cursors

__all__ = ["CURSOR", "CdcReport", "catch_up", "load_cursor", "save_cursor"]

CURSOR = "qbo:cdc"
WINDOW = dt.timedelta(days=30)
log = logging.getLogger("passerelle.serve")


@dataclass(frozen=True)
class CdcReport:
    profile: str
    events: tuple[QboEvent, ...]
    cursor: str
    gap: str | None = None  # set when changes older than the 30-day window may be missing


def load_cursor(served: Served) -> str | None:
    store = served.session.store
    with store.engine.connect() as conn:
        value = conn.execute(sa.select(cursors.c.value).where(cursors.c.profile == served.key,
                                                              cursors.c.name == CURSOR)).scalar()
    return None if value is None else str(value)


def save_cursor(served: Served, value: str) -> None:
    store, now = served.session.store, dt.datetime.now(dt.UTC)
    where = (cursors.c.profile == served.key) & (cursors.c.name == CURSOR)
    with store.engine.begin() as conn:
        if conn.execute(sa.update(cursors).where(where).values(value=value, updated_at=now)).rowcount == 0:
            conn.execute(sa.insert(cursors).values(profile=served.key, name=CURSOR, value=value, updated_at=now))


def entities_read(served: Served) -> list[str]:
    """The QBO entities the profile's flows read: the only changes worth catching up."""
    connections = served.session.loaded.resolved.connections
    names = {flow.flow.source.entity for flow in served.session.loaded.compiled.flows.values()
             if (conn := connections.get(flow.flow.source.connection)) is not None and conn.connector == "qbo"}
    return sorted(names)


def _parse(stamp: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def catch_up(served: Served, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> CdcReport:
    """The changes since the cursor as events (the caller persists them, then saves ``report.cursor``).

    Without a cursor (first start) nothing is read: the cursor starts now, a full sync covers the past."""
    entities = entities_read(served)
    current = now()
    stored = load_cursor(served)
    if not entities or stored is None:
        return CdcReport(served.key, (), current.isoformat(timespec="seconds"))
    since, gap = _parse(stored), None
    if current - since > WINDOW:
        gap = (f"the last change-data-capture was {stored}, more than 30 days ago: changes before "
               f"{(current - WINDOW).date()} may be missing; run `passerelle sync {served.key}` for a full re-read")
        log.warning("%s: %s", served.key, gap)
        since = current - WINDOW + dt.timedelta(minutes=1)
    result = served.session.target.client.cdc(entities, since.isoformat(timespec="seconds"))
    events = tuple(QboEvent(realm=served.realm, entity=change.entity, entity_id=change.id,
                            operation="Delete" if change.deleted else "Update", last_updated=change.last_updated)
                   for change in result.changes)
    return CdcReport(served.key, events, result.cursor or current.isoformat(timespec="seconds"), gap)
