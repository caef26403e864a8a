"""QBO notifications in both formats, flattened to one event per changed entity.

Both carry ids only: what changed is read again from QBO when the event is processed, so the order in
which notifications arrive does not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.qbo.entities import ENTITIES

__all__ = ["BadNotification", "ProductEvent", "QboEvent", "bounded_key", "event_from_row", "parse_product", "parse_qbo"]

_VERBS: Mapping[str, str] = {"created": "Create", "updated": "Update", "deleted": "Delete", "voided": "Void",
                             "merged": "Merge", "emailed": "Emailed"}
_ENTITY_NAMES: Mapping[str, str] = {name.lower(): name for name in (*ENTITIES, "Preferences")}


class BadNotification(ValueError):
    """A signed body that is not a notification we understand (answered 400, nothing stored)."""


@dataclass(frozen=True)
class QboEvent:
    realm: str
    entity: str
    entity_id: str
    operation: str  # Create, Update, Delete, Void, Merge, Emailed
    last_updated: str = ""
    event_id: str = ""  # the CloudEvents id; empty in the legacy format
    raw: Mapping[str, Any] | None = None

    @property
    def dedupe_key(self) -> str:
        """A redelivery carries the same id (CloudEvents) or the same entity, operation and time (legacy)."""
        if self.event_id:
            return bounded_key(f"ce:{self.event_id}")
        return bounded_key(f"{self.realm}:{self.entity}:{self.entity_id}:{self.operation}:{self.last_updated}")

    @property
    def trigger(self) -> str:
        return f"qbo:{self.entity}.{self.operation}"


@dataclass(frozen=True)
class ProductEvent:
    connection: str
    type: str
    record_id: str
    event_id: str
    record: Mapping[str, Any]

    @property
    def trigger(self) -> str:
        return f"{self.connection}:{self.type}"


def bounded_key(key: str, limit: int = 255) -> str:
    """A key that fits the store's column: hashed when too long, never cut (two cut keys could collide)."""
    return key if len(key) <= limit else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def event_from_row(body: Mapping[str, Any]) -> QboEvent | ProductEvent:
    """The event a stored ``events`` row holds (see ``worker.qbo_row`` and ``worker.product_row``)."""
    if body.get("kind") == "product":
        return ProductEvent(str(body["connection"]), str(body["type"]), str(body["record_id"]),
                            str(body.get("event_id") or ""), body.get("record") or {})
    return QboEvent(str(body["realm"]), str(body["entity"]), str(body["id"]), str(body["operation"]),
                    str(body.get("last_updated") or ""), str(body.get("event_id") or ""))


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadNotification(f"not JSON: {exc}") from None


def _cloudevent(item: Mapping[str, Any]) -> QboEvent:
    parts = str(item.get("type", "")).split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise BadNotification(f"unknown event type {item.get('type')!r}")
    entity = _ENTITY_NAMES.get(parts[1], parts[1][:1].upper() + parts[1][1:])
    return QboEvent(realm=str(item.get("intuitaccountid", "")), entity=entity,
                    entity_id=str(item.get("intuitentityid", "")), operation=_VERBS.get(parts[2], parts[2].title()),
                    last_updated=str(item.get("time", "")), event_id=str(item.get("id", "")), raw=item)


def parse_qbo(body: bytes) -> list[QboEvent]:
    """The events of a CloudEvents array or a legacy ``eventNotifications`` object."""
    data = _load(body)
    if isinstance(data, list):
        return [_cloudevent(item) for item in data if isinstance(item, Mapping)]
    if not isinstance(data, Mapping) or not isinstance(data.get("eventNotifications"), list):
        raise BadNotification("neither a CloudEvents array nor eventNotifications")
    events = []
    for notification in data["eventNotifications"]:
        realm = str(notification.get("realmId", ""))
        for entity in (notification.get("dataChangeEvent") or {}).get("entities") or []:
            events.append(QboEvent(realm=realm, entity=str(entity.get("name", "")), entity_id=str(entity.get("id", "")),
                                   operation=str(entity.get("operation", "")),
                                   last_updated=str(entity.get("lastUpdated", "")),
                                   raw={"realmId": realm, **entity}))
    return events


def parse_product(connection: str, body: bytes, *, type_field: str = "type", record_field: str = "data"
                  ) -> ProductEvent:
    """A product event: ``{type_field: "invoice.validated", "id": ..., record_field: {"id": ...}}``."""
    data = _load(body)
    if not isinstance(data, Mapping) or not data.get(type_field):
        raise BadNotification(f"no {type_field!r} in the event")
    record = data.get(record_field) or {}
    if not isinstance(record, Mapping) or record.get("id") is None:
        raise BadNotification(f"no record with an id under {record_field!r}")
    return ProductEvent(connection=connection, type=str(data[type_field]), record_id=str(record["id"]),
                        event_id=str(data.get("id") or ""), record=record)
