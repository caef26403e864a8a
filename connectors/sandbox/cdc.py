"""Change data capture: every object of the asked entities changed since an instant, deletions as stubs.

The look-back is at most 30 days and one answer holds at most 1000 objects across all entities;
past that the oldest 1000 changes are returned, so a client that advances ``changedSince`` to
the last ``LastUpdatedTime`` it saw makes progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.catalogue import ENTITIES, UNSERVED
from connectors.sandbox.errors import QboError
from connectors.sandbox.operations import render
from connectors.sandbox.store import RealmState
from connectors.sandbox.timefmt import parse_instant

__all__ = ["CDC_EXCLUDED", "MAX_OBJECTS", "WINDOW", "change_data_capture"]

WINDOW = timedelta(days=30)
MAX_OBJECTS = 1000
# QBO: "not available for JournalCode, TaxAgency, TimeActivity, TaxCode, TaxRate"; the singletons are not either.
CDC_EXCLUDED = frozenset({"TaxCode", "TaxRate", "Preferences", "CompanyInfo", "TaxAgency", "TimeActivity",
                          "JournalCode"})


def _entities(text: str) -> list[str]:
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not names:
        raise QboError("2020", "Required parameter entities is missing in the request", "entities")
    result = []
    for name in names:
        entity = next((known for known in (*ENTITIES, *UNSERVED) if known.lower() == name.lower()), None)
        if entity is None or entity in CDC_EXCLUDED:
            raise QboError("2010", f"Change data capture is not supported for entity {name}", "entities")
        if entity not in result:
            result.append(entity)
    return result


def change_data_capture(realm: RealmState, entities: str, changed_since: str, now: datetime) -> dict[str, Any]:
    """The ``CDCResponse`` list for one request."""
    wanted = _entities(entities)
    if not changed_since:
        raise QboError("2020", "Required parameter changedSince is missing in the request", "changedSince")
    since = parse_instant(changed_since, realm.timezone)
    if since is None:
        raise QboError("2010", f"changedSince is not a date-time: {changed_since}", "changedSince")
    if since < now - WINDOW:
        raise QboError("2010", "changedSince must be within the last 30 days", "changedSince")
    found: list[tuple[datetime, str, dict[str, Any]]] = []
    for entity in wanted:
        for row in realm.rows(entity):
            updated = parse_instant(row["MetaData"]["LastUpdatedTime"], realm.timezone)
            if updated is not None and updated >= since:
                found.append((updated, entity, render(row)))
        for entity_id, deleted_at in realm.tombstones.get(entity, {}).items():
            deleted = parse_instant(deleted_at, realm.timezone)
            if deleted is not None and deleted >= since:
                found.append((deleted, entity, {"domain": "QBO", "status": "Deleted", "Id": entity_id,
                                                "MetaData": {"LastUpdatedTime": deleted_at}}))
    found.sort(key=lambda item: item[0])
    found = found[:MAX_OBJECTS]
    responses = []
    for entity in wanted:
        objects = [obj for _, name, obj in found if name == entity]
        if objects:
            responses.append({entity: objects, "startPosition": 1, "maxResults": len(objects),
                              "totalCount": len(objects)})
    return {"CDCResponse": [{"QueryResponse": responses or [{}]}]}
