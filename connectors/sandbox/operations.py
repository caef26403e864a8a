"""Create, read, full/sparse update, delete and void, with QBO's rules, on one realm.

Every write goes through :func:`write`, used alike by the entity endpoints and by batch items.
Callers hold the store lock; the list of :class:`Change` a write produced feeds CDC persistence
and webhooks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from connectors.sandbox import links
from connectors.sandbox.catalogue import ENTITIES
from connectors.sandbox.compute import LINKING_FORMS, compute
from connectors.sandbox.docnumbers import apply_doc_number
from connectors.sandbox.errors import QboError
from connectors.sandbox.payload import READ_ONLY, SYSTEM, check_enums, check_lengths, clean
from connectors.sandbox.refs import check_refs
from connectors.sandbox.rules import rules_for
from connectors.sandbox.store import RealmState
from connectors.sandbox.timefmt import stamp, today

__all__ = ["Change", "Operation", "WriteContext", "read", "render", "write"]

Operation = Literal["create", "update", "delete", "void", "void-include"]


@dataclass(frozen=True)
class Change:
    """One record changed by a write: what CDC and webhooks report."""

    realm_id: str
    entity: str
    entity_id: str
    operation: str  # Create, Update, Delete, Void
    last_updated: str


@dataclass
class WriteContext:
    """The realm being written, the instant of the write, and the changes collected so far."""

    realm: RealmState
    now: datetime
    allow_duplicate_docnum: bool = False
    changes: list[Change] = field(default_factory=list)
    seeding: bool = False  # test fixtures: entities QBO only reads (Budget) may be created

    @property
    def stamp(self) -> str:
        return stamp(self.now, self.realm.timezone)

    def record(self, entity: str, entity_id: str, operation: str) -> None:
        self.changes.append(Change(self.realm.realm_id, entity, entity_id, operation, self.stamp))


def render(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as clients see it: private bookkeeping keys removed, deep-copied."""
    return {key: copy.deepcopy(value) for key, value in row.items() if not key.startswith("_")}


def _not_found(realm: RealmState, entity: str, entity_id: str) -> QboError:
    if entity_id in realm.tombstones.get(entity, {}):
        return QboError("610", "Object Not Found : Another user has deleted this transaction.", "Id")
    return QboError("610", f"Object Not Found : {entity} with Id {entity_id} does not exist", "Id")


def read(realm: RealmState, entity: str, entity_id: str) -> dict[str, Any]:
    row = realm.get(entity, str(entity_id))
    if row is None:
        raise _not_found(realm, entity, str(entity_id))
    return render(row)


def _unsupported(operation: str, element: str = "Operation") -> QboError:
    return QboError("500", f"Operation {operation} is not supported.", element)


def _defaults(ctx: WriteContext, entity: str, payload: dict[str, Any]) -> None:
    spec = ENTITIES[entity]
    home = ctx.realm.preference("CurrencyPrefs", "HomeCurrency", {"value": "USD"})
    if spec.family == "transaction":
        payload.setdefault("TxnDate", today(ctx.now, ctx.realm.timezone))
        if "CurrencyRef" in spec.fields:
            payload.setdefault("CurrencyRef", dict(home))
    if spec.family == "name-list":
        payload.setdefault("Active", True)
        if entity in ("Customer", "Vendor"):
            payload.setdefault("CurrencyRef", dict(home))
            payload["Balance"] = Decimal(0)
    currency = (payload.get("CurrencyRef") or {}).get("value")
    multi = ctx.realm.preference("CurrencyPrefs", "MultiCurrencyEnabled", False)
    if currency and currency != home.get("value") and not multi:
        raise QboError("6000", f"Business Validation Error: currency {currency} is not the home currency and "
                               "multicurrency is off", "CurrencyRef")


def _check_unique_name(ctx: WriteContext, entity: str, payload: dict[str, Any], own_id: str | None) -> None:
    rules = rules_for(entity)
    if not rules.unique_names:
        return
    key = str(payload.get("FullyQualifiedName") or payload.get(rules.name_field, "")).casefold()
    for name in rules.unique_names:
        for row in ctx.realm.rows(name):
            other = str(row.get("FullyQualifiedName") or row.get(rules.name_field, "")).casefold()
            if other == key and not (name == entity and row["Id"] == own_id):
                raise QboError("6240", "Duplicate Name Exists Error : The name supplied already exists. : "
                                       f"Another {name.lower()} is already using this name ({row['Id']}). "
                                       "Please use a different name.", rules.name_field)


def _check_attachable_refs(ctx: WriteContext, payload: dict[str, Any]) -> None:
    for ref in payload.get("AttachableRef") or ():
        target = (ref or {}).get("EntityRef") or {}
        entity = next((name for name in ENTITIES if name.lower() == str(target.get("type", "")).lower()), None)
        if entity is None or ctx.realm.get(entity, str(target.get("value"))) is None:
            raise QboError("2500", "Invalid Reference Id : AttachableRef.EntityRef", "AttachableRef.EntityRef")


def _prepare(ctx: WriteContext, entity: str, payload: dict[str, Any], previous: dict[str, Any],
             own_id: str | None) -> None:
    """Defaults, validation and computed fields, in QBO's order: shape, required, references, amounts."""
    _defaults(ctx, entity, payload)
    check_lengths(entity, payload)
    check_enums(entity, payload)
    for check in rules_for(entity).checks:
        check(ctx.realm, payload)
    check_refs(ctx.realm, entity, payload, previous)
    if entity == "Attachable":
        _check_attachable_refs(ctx, payload)
    compute(ctx.realm, entity, payload, previous)
    if entity in LINKING_FORMS:
        links.check_links(ctx.realm, entity, payload, own_id)
    if own_id is not None:
        links.check_total_covers_payments(ctx.realm, entity, payload, own_id)
    apply_doc_number(ctx.realm, entity, payload, own_id, ctx.allow_duplicate_docnum)
    _check_unique_name(ctx, entity, payload, own_id)


def _refresh(ctx: WriteContext, targets: set[tuple[str, str]]) -> None:
    """Re-derive Balance/LinkedTxn of documents a payment touched; bump them if anything changed."""
    for txn_type, txn_id in sorted(targets):
        row = ctx.realm.get(txn_type, txn_id)
        if row is None:
            continue
        fields = links.derived_fields(ctx.realm, txn_type, row)
        if all(row.get(key) == value for key, value in fields.items()):
            continue
        row.update(fields)
        row["SyncToken"] = str(int(row["SyncToken"]) + 1)
        row["MetaData"] = {**row["MetaData"], "LastUpdatedTime": ctx.stamp}
        ctx.record(txn_type, txn_id, "Update")


def _with_sources(ctx: WriteContext, entity: str, body: dict[str, Any], payload: dict[str, Any],
                  current: dict[str, Any]) -> None:
    """The documents this one is made from (an invoice's estimate), named in its header ``LinkedTxn``."""
    if entity not in links.CONVERSIONS:
        return
    own_id = current.get("Id")
    if "LinkedTxn" in body or own_id is None:
        payload["_from"] = links.sources_from(ctx.realm, entity, body, own_id)
    elif current.get("_from"):
        payload["_from"] = current["_from"]


def _create(ctx: WriteContext, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    rules = rules_for(entity)
    if not (rules.creatable or (ctx.seeding and rules.seedable)):
        raise _unsupported("Create")
    payload = clean(ENTITIES[entity], body)
    _prepare(ctx, entity, payload, {}, None)
    _with_sources(ctx, entity, body, payload, {})
    row_id = ctx.realm.next_id()
    row = {"Id": row_id, "SyncToken": "0", "domain": "QBO", "sparse": False,
           "MetaData": {"CreateTime": ctx.stamp, "LastUpdatedTime": ctx.stamp}, **payload}
    row.update(links.derived_fields(ctx.realm, entity, row))
    ctx.realm.table(entity)[row_id] = row
    ctx.record(entity, row_id, "Create")
    _refresh(ctx, links.targets_of(row))
    return render(row)


def _current(ctx: WriteContext, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored row a write names, after the Id and SyncToken checks (2020, 610, 5010)."""
    entity_id = body.get("Id")
    if entity_id in (None, ""):
        raise QboError("2020", "Required parameter Id is missing in the request", "Id")
    row = ctx.realm.get(entity, str(entity_id))
    if row is None:
        raise _not_found(ctx.realm, entity, str(entity_id))
    token = body.get("SyncToken")
    if token in (None, ""):
        raise QboError("2020", "Required parameter SyncToken is missing in the request", "SyncToken")
    if str(token) != row["SyncToken"]:
        raise QboError("5010", "Stale Object Error : You and root were working on this at the same time. "
                               "root finished before you did, so your work was not saved.", "SyncToken")
    return row


def _writable_part(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    read_only = READ_ONLY.get(entity, frozenset())
    return {key: copy.deepcopy(value) for key, value in row.items()
            if key not in SYSTEM and key not in read_only and not key.startswith("_")}


def _update(ctx: WriteContext, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    if not rules_for(entity).updatable:
        raise _unsupported("Update")
    current = _current(ctx, entity, body)
    links.check_changeable(ctx.realm, entity, current["Id"])
    payload = clean(ENTITIES[entity], body)
    if body.get("sparse") is True or entity in ("Preferences", "CompanyInfo"):
        merged = _writable_part(entity, current)
        for key, value in payload.items():
            if entity == "Preferences" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        payload = merged
    own_id = current["Id"]
    before_targets = links.targets_of(current)
    if entity not in ("Preferences", "CompanyInfo"):
        _prepare(ctx, entity, payload, current, own_id)
        _with_sources(ctx, entity, body, payload, current)
    private = {key: value for key, value in current.items() if key.startswith("_") and key not in payload}
    row = {"Id": own_id, "SyncToken": str(int(current["SyncToken"]) + 1), "domain": "QBO", "sparse": False,
           "MetaData": {"CreateTime": current["MetaData"]["CreateTime"], "LastUpdatedTime": ctx.stamp},
           **payload, **private}
    row.update(links.derived_fields(ctx.realm, entity, row))
    ctx.realm.table(entity)[own_id] = row
    ctx.record(entity, own_id, "Update")
    _refresh(ctx, before_targets | links.targets_of(row))
    return render(row)


def _delete(ctx: WriteContext, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    if ENTITIES[entity].family == "name-list" or not rules_for(entity).deletable:
        raise _unsupported("Delete")
    current = _current(ctx, entity, body)
    own_id = current["Id"]
    links.check_changeable(ctx.realm, entity, own_id)
    if links.payers_of(ctx.realm, entity, own_id):
        raise QboError("6000", f"Business Validation Error: {entity} {own_id} has linked payments; "
                               "delete or unlink them first", "Id")
    del ctx.realm.table(entity)[own_id]
    ctx.realm.files.pop(own_id, None)
    ctx.realm.tombstones.setdefault(entity, {})[own_id] = ctx.stamp
    ctx.record(entity, own_id, "Delete")
    _refresh(ctx, links.targets_of(current))
    return {"status": "Deleted", "domain": "QBO", "Id": own_id}


def _zero_lines(entity: str, row: dict[str, Any]) -> None:
    if entity == "BillPayment":
        row["Line"] = []
        return
    for line in row.get("Line") or ():
        if "Amount" in line:
            line["Amount"] = Decimal(0)


def _void(ctx: WriteContext, entity: str, body: dict[str, Any], style: str) -> dict[str, Any]:
    void = rules_for(entity).void
    if void == "fault":
        raise QboError("10000", "System Failure Error: java.lang.UnsupportedOperationException", status=200)
    if void is None or void != style:
        raise _unsupported("void")
    current = _current(ctx, entity, body)
    own_id = current["Id"]
    links.check_changeable(ctx.realm, entity, own_id)
    if links.payers_of(ctx.realm, entity, own_id):
        raise QboError("6000", f"Business Validation Error: {entity} {own_id} has linked payments; "
                               "unlink them before voiding", "Id")
    row = copy.deepcopy(current)
    _zero_lines(entity, row)
    row["TotalAmt"] = Decimal(0)
    for key in ("Balance", "UnappliedAmt", "RemainingCredit"):
        if key in row:
            row[key] = Decimal(0)
    if "TxnTaxDetail" in row:
        row["TxnTaxDetail"] = {**row["TxnTaxDetail"], "TotalTax": Decimal(0), "TaxLine": []}
    note = row.get("PrivateNote")
    row["PrivateNote"] = f"Voided - {note}" if note and not str(note).startswith("Voided") else "Voided"
    row["_voided"] = True
    row["SyncToken"] = str(int(current["SyncToken"]) + 1)
    row["MetaData"] = {**current["MetaData"], "LastUpdatedTime": ctx.stamp}
    ctx.realm.table(entity)[own_id] = row
    ctx.record(entity, own_id, "Void")
    _refresh(ctx, links.targets_of(current))
    return render(row)


def write(ctx: WriteContext, entity: str, body: Any, operation: Operation | None = None) -> dict[str, Any]:
    """Apply one write; ``operation=None`` means create, or update when the body carries an Id."""
    if not isinstance(body, dict):
        raise QboError("2010", f"The request body must be a {entity} object")
    if operation is None:
        operation = "update" if body.get("Id") not in (None, "", 0, "0") else "create"
    result: dict[str, Any] = _WRITERS[operation](ctx, entity, body)
    return result


_WRITERS: dict[str, Any] = {
    "create": _create, "update": _update, "delete": _delete,
    "void": lambda ctx, entity, body: _void(ctx, entity, body, "operation"),
    "void-include": lambda ctx, entity, body: _void(ctx, entity, body, "include"),
}
