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
    except (ValueError, UnicodeDecodeError) as exc:  # bad UTF-8, bad JSON, a 5,000-digit integer
        raise BadNotification(f"not JSON: {str(exc)[:200]}") from None
    except RecursionError:  # "[[[[…" a million deep fits in the body bound
        raise BadNotification("not JSON: nested too deeply") from None


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadNotification(f"{where} is {_kind(value)}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadNotification(f"{where} is {_kind(value)}, not a list")
    return value


def _text(item: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """A string or number field; missing (when required), an object or a list is a bad notification."""
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise BadNotification(f"{where} has no {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadNotification(f"{where}: {key!r} is {_kind(value)}, not a string")
    return str(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _cloudevent(value: Any, index: int) -> QboEvent:
    where = f"event {index}"
    item = _object(value, where)
    kind = _text(item, "type", where)
    parts = kind.split(".")
    if len(parts) < 3 or parts[0] != "qbo" or not parts[1] or not parts[2]:
        raise BadNotification(f"{where}: unknown event type {kind[:100]!r}")
    entity = _ENTITY_NAMES.get(parts[1], parts[1][:1].upper() + parts[1][1:])
    return QboEvent(realm=_text(item, "intuitaccountid", where), entity=entity,
                    entity_id=_text(item, "intuitentityid", where), operation=_VERBS.get(parts[2], parts[2].title()),
                    last_updated=_text(item, "time", where, required=False),
                    event_id=_text(item, "id", where, required=False), raw=item)


def _legacy(value: Any, index: int) -> list[QboEvent]:
    where = f"eventNotifications[{index}]"
    notification = _object(value, where)
    realm = _text(notification, "realmId", where)
    change = _object(notification.get("dataChangeEvent"), f"{where}.dataChangeEvent")
    entities = _list(change.get("entities"), f"{where}.dataChangeEvent.entities")
    events = []
    for number, raw in enumerate(entities):
        at = f"{where}.dataChangeEvent.entities[{number}]"
        entity = _object(raw, at)
        events.append(QboEvent(realm=realm, entity=_text(entity, "name", at), entity_id=_text(entity, "id", at),
                               operation=_text(entity, "operation", at),
                               last_updated=_text(entity, "lastUpdated", at, required=False),
                               raw={"realmId": realm, **entity}))
    return events


def parse_qbo(body: bytes) -> list[QboEvent]:
    """The events of a CloudEvents array or a legacy ``eventNotifications`` object.

    All or nothing: one malformed event makes the whole body a :class:`BadNotification` (answered 400,
    nothing stored), so a body is never half accepted."""
    data = _load(body)
    if isinstance(data, list):
        return [_cloudevent(item, index) for index, item in enumerate(data)]
    if not isinstance(data, Mapping) or "eventNotifications" not in data:
        raise BadNotification("neither a CloudEvents array nor eventNotifications")
    notifications = _list(data["eventNotifications"], "eventNotifications")
    return [event for index, item in enumerate(notifications) for event in _legacy(item, index)]


def parse_product(connection: str, body: bytes, *, type_field: str = "type", record_field: str = "data"
                  ) -> ProductEvent:
    """A product event: ``{type_field: "invoice.validated", "id": ..., record_field: {"id": ...}}``."""
    data = _object(_load(body), "the event")
    if not data.get(type_field):
        raise BadNotification(f"no {type_field!r} in the event")
    record = data.get(record_field) or {}
    if not isinstance(record, Mapping) or record.get("id") in (None, ""):
        raise BadNotification(f"no record with an id under {record_field!r}")
    return ProductEvent(connection=connection, type=_text(data, type_field, "the event"),
                        record_id=_text(record, "id", f"the event's {record_field!r}"),
                        event_id=_text(data, "id", "the event", required=False), record=record)
