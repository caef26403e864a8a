"""Uncertain outcomes: after a timeout, a dropped connection, a 5xx or a 429 on a write, did QBO apply it?

The write may have committed before the answer was lost. Before sending it again, look for it:

============  ======================================================================================
operation     how the document is found
============  ======================================================================================
create        a query on the request's ``match`` fields (a marker the pack writes), else on ``DocNumber``
              (with the customer/vendor when the payload has one); without either, requestid replay
update        re-read: the SyncToken moved past ours and our fields hold the values we sent
void          re-read: the document is voided (zero total, ``Voided`` note)
delete        re-read: the document is gone (fault 610)
deactivate    re-read: ``Active`` is false
============  ======================================================================================

When the probe finds nothing (or cannot tell), the write is sent again **with the same requestid**: QBO
answers a repeated requestid with the first answer instead of executing it twice (requestid replay), so
even a probe that misses cannot cause a duplicate while QBO remembers the id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.qbo.compare import changed_fields
from connectors.qbo.entities import ENTITIES
from connectors.qbo.faults import QboFault
from connectors.qbo.reads import quote, select

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient
    from connectors.qbo.writes import WriteRequest

__all__ = ["PROBES", "match_clause", "probe"]

Found = dict[str, Any] | None
Probe = Callable[["QboClient", "WriteRequest", "str | None"], Found]

# Entities whose DocNumber cannot be filtered on (reference §4).
_NO_DOCNUMBER_FILTER = frozenset({"Payment"})
_PARTIES = ("CustomerRef", "VendorRef")


def _literal(value: Any) -> Any:
    if isinstance(value, Mapping) and "value" in value:
        return value["value"]
    return value


def match_clause(req: WriteRequest) -> str | None:
    """The WHERE clause that finds the document a create would have made, or None."""
    fields: dict[str, Any] = dict(req.match or {})
    spec = ENTITIES.get(req.entity)
    if not fields and spec is not None and spec.family == "transaction" and req.entity not in _NO_DOCNUMBER_FILTER:
        doc = req.payload.get("DocNumber")
        if doc:
            fields["DocNumber"] = doc
            for party in _PARTIES:
                if party in req.payload:
                    fields[party] = req.payload[party]
                    break
    if not fields:
        return None
    return " AND ".join(f"{name} = {quote(_literal(value))}" for name, value in fields.items())


def _created(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    where = match_clause(req)
    if where is None:
        return None  # nothing to search by: rely on requestid replay
    rows = client.query(select(req.entity, where, size=2)).get(req.entity) or []
    return dict(rows[0]) if rows else None


def _read(client: QboClient, req: WriteRequest) -> dict[str, Any] | QboFault:
    assert req.target_id is not None
    try:
        return client.get(req.entity, req.target_id)
    except QboFault as error:
        return error


def _updated(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    current = _read(client, req)
    if isinstance(current, QboFault):
        return None
    moved = token is None or str(current.get("SyncToken")) != str(token)
    return current if moved and not changed_fields(req.payload, current, req.owned) else None


def _deleted(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    current = _read(client, req)
    if isinstance(current, QboFault) and current.fault.kind == "not_found":
        return {"Id": req.target_id, "status": "Deleted", "domain": "QBO"}
    return None


def _voided(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    current = _read(client, req)
    if isinstance(current, QboFault):
        return None
    total = Decimal(str(current.get("TotalAmt", "0") or "0"))
    return current if total == 0 and str(current.get("PrivateNote") or "").startswith("Voided") else None


def _deactivated(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    current = _read(client, req)
    if isinstance(current, QboFault):
        return None
    return current if current.get("Active") is False else None


PROBES: Mapping[str, Probe] = {
    "create": _created, "update": _updated, "void": _voided, "delete": _deleted, "deactivate": _deactivated,
}


def probe(client: QboClient, req: WriteRequest, token: str | None) -> Found:
    """The document as QBO has it if the write was applied, else None (not applied, or cannot tell)."""
    try:
        return PROBES[req.operation](client, req, token)
    except QboFault:
        return None  # the probe itself failed: the retry with the same requestid stays safe
