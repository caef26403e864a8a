"""Writes: one planned write in (:class:`WriteRequest`), one result out (:class:`WriteResult`).

Operations follow QBO's per-entity rules (reference §3), looked up in :data:`OPERATIONS` and
:data:`VOID_STYLES`, never branched on by name:

- ``create``: ``POST /{entity}``;
- ``update``: a *sparse* update carrying the current ``SyncToken``; on 5010 (stale) the record is re-read, and
  the update is re-applied only if the fields we own are unchanged since we last wrote them (``base``),
  else the result is a ``conflict``;
- ``void``: ``?operation=void`` (Invoice) or ``?operation=update&include=void`` + sparse (Payment,
  SalesReceipt, BillPayment); other entities have no API void and fail without a call;
- ``delete``: ``?operation=delete`` with ``{Id, SyncToken}`` for transactions; name-list records are never
  deleted in QBO, so ``delete`` on them *deactivates* (sparse ``Active: false``), as does ``deactivate``.

Every request carries a deterministic ``requestid`` (:mod:`connectors.qbo.requestid`). A write that gets no
definite answer (timeout, dropped connection, 5xx, 429) is looked for (:mod:`connectors.qbo.recovery`)
before it is sent again, with the same requestid, so it is never applied twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from connectors.qbo import recovery
from connectors.qbo.compare import changed_fields
from connectors.qbo.entities import ENTITIES
from connectors.qbo.exchange import Answer, json_call
from connectors.qbo.faults import KINDS, Fault, QboFault, UncertainOutcome, local_fault
from connectors.qbo.reads import entity_path
from connectors.qbo.requestid import MAX_REQUEST_ID, NAMESPACE, request_id

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient

__all__ = [
    "OPERATIONS", "VOID_STYLES", "Operation", "OperationSpec", "WriteRequest", "WriteResult", "execute",
    "planned_request_id",
]

Operation = Literal["create", "update", "void", "delete", "deactivate"]
Status = Literal["done", "failed", "conflict", "uncertain"]

# How each voidable entity is voided (reference §3); absent = no void through the API.
VOID_STYLES: Mapping[str, str] = {"Invoice": "operation", "Payment": "include", "SalesReceipt": "include",
                                  "BillPayment": "include"}


@dataclass(frozen=True)
class WriteRequest:
    """One planned write, as the runtime hands it over.

    ``payload`` is the full body of a create, or the fields to set in an update (sparse). ``owned_fields``
    (default: the payload's keys) are the fields the pack owns; ``base`` holds their values as last
    written (from the ledger) and decides, on a 5010, between re-applying and reporting a conflict.
    ``match`` names fields a query can find the document by after an uncertain outcome (a marker the
    pack writes, e.g. ``{"DocNumber": "FB-1001"}``); without it, DocNumber (and the party) is tried, then
    requestid replay. ``request_id`` (optional) is the id the runtime recorded in its outbox; it is sent as
    is for the planned SyncToken, and a re-read SyncToken derives a new id from it. Without it the id is
    computed (:func:`planned_request_id`).
    """

    entity: str
    operation: Operation
    payload: Mapping[str, Any] = field(default_factory=dict)
    flow: str = ""
    source_key: str = ""
    target_id: str | None = None
    sync_token: str | None = None
    owned_fields: tuple[str, ...] = ()
    base: Mapping[str, Any] | None = None
    match: Mapping[str, Any] | None = None
    allow_duplicate_docnum: bool = False
    request_id: str | None = None

    @property
    def owned(self) -> tuple[str, ...]:
        return self.owned_fields or tuple(key for key in self.payload if key not in ("Id", "SyncToken", "sparse"))


@dataclass(frozen=True)
class WriteResult:
    """What happened to one write. ``recovered``: found in QBO after an uncertain outcome."""

    request: WriteRequest
    status: Status
    request_id: str = ""
    record: Mapping[str, Any] | None = None
    fault: Fault | None = None
    recovered: bool = False
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def target_id(self) -> str | None:
        value = (self.record or {}).get("Id") or self.request.target_id
        return str(value) if value is not None else None

    @property
    def sync_token(self) -> str | None:
        value = (self.record or {}).get("SyncToken")
        return str(value) if value is not None else None


Builder = Callable[[WriteRequest, str | None], tuple[dict[str, str], dict[str, Any]]]


@dataclass(frozen=True)
class OperationSpec:
    """How one operation is sent: its query parameters and body, and whether it needs the SyncToken."""

    build: Builder
    needs_token: bool
    batch_name: str | None = None  # the batch ``operation`` for it, if batchable


def _create(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    return {}, {key: value for key, value in req.payload.items() if key not in ("Id", "SyncToken", "sparse")}


def _update(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    return {}, {**_create(req, token)[1], "Id": req.target_id, "SyncToken": token, "sparse": True}


def _delete(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    return {"operation": "delete"}, {"Id": req.target_id, "SyncToken": token}


def _void(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    if VOID_STYLES[req.entity] == "operation":
        return {"operation": "void"}, {"Id": req.target_id, "SyncToken": token}
    return {"operation": "update", "include": "void"}, {"Id": req.target_id, "SyncToken": token, "sparse": True}


def _deactivate(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    return {}, {"Id": req.target_id, "SyncToken": token, "sparse": True, "Active": False}


OPERATIONS: Mapping[str, OperationSpec] = {
    "create": OperationSpec(_create, needs_token=False, batch_name="create"),
    "update": OperationSpec(_update, needs_token=True, batch_name="update"),
    "delete": OperationSpec(_delete, needs_token=True, batch_name="delete"),
    "void": OperationSpec(_void, needs_token=True),
    "deactivate": OperationSpec(_deactivate, needs_token=True, batch_name="update"),
}


def normalise(req: WriteRequest) -> WriteRequest | Fault:
    """Apply QBO's entity rules: name lists deactivate instead of delete; unsupported operations fail."""
    spec = ENTITIES.get(req.entity)
    if spec is None or req.operation not in OPERATIONS:
        return local_fault("configuration", f"cannot {req.operation} {req.entity}: unknown entity or operation",
                           entity=req.entity, operation=req.operation)
    if req.operation != "create" and not req.target_id:
        return local_fault("configuration", f"{req.operation} needs the target id", entity=req.entity,
                           operation=req.operation)
    if req.operation == "delete" and spec.family == "name-list":
        return replace(req, operation="deactivate")
    if req.operation == "deactivate" and spec.family != "name-list":
        return local_fault("unsupported_operation", f"{req.entity} is not a name-list record; void or delete it",
                           entity=req.entity, operation=req.operation)
    if req.operation == "void" and req.entity not in VOID_STYLES:
        return local_fault("unsupported_operation", f"QBO's API cannot void a {req.entity}; delete it instead",
                           entity=req.entity, operation=req.operation)
    return req


def _body(req: WriteRequest, token: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    params, body = OPERATIONS[req.operation].build(req, token)
    if req.allow_duplicate_docnum:
        params["include"] = ",".join(filter(None, (params.get("include"), "allowduplicatedocnum")))
    return params, body


def _request_id(profile: str, req: WriteRequest, token: str | None) -> str:
    if req.request_id:
        if len(req.request_id) > MAX_REQUEST_ID:
            raise ValueError(f"a requestid has at most {MAX_REQUEST_ID} characters")
        if token == req.sync_token:
            return req.request_id
        return str(uuid.uuid5(NAMESPACE, f"{req.request_id}\x1f{token}"))
    params, body = _body(req, token)
    return request_id(profile, flow=req.flow, source_key=req.source_key, entity=req.entity, operation=req.operation,
                      payload={"params": params, "body": body})


def planned_request_id(profile: str, req: WriteRequest) -> str:
    """The requestid the first attempt of ``req`` will carry (for the runtime's outbox)."""
    return _request_id(profile, req, req.sync_token)


class _Write:
    """The state of one write while it runs."""

    def __init__(self, client: QboClient, req: WriteRequest) -> None:
        self.client = client
        self.req = req
        self.token = req.sync_token
        self.attempts = 0
        self.request_id = ""

    def result(self, status: Status, record: Mapping[str, Any] | None = None, fault: Fault | None = None,
               recovered: bool = False) -> WriteResult:
        if fault is not None:
            fault = fault.about(self.req.entity, self.req.operation)
        if status == "done" and record is not None:
            self.client.remember(self.req.entity, record)
        return WriteResult(self.req, status, self.request_id, record, fault, recovered, self.attempts)

    def current(self) -> dict[str, Any] | Fault:
        assert self.req.target_id is not None
        try:
            return self.client.get(self.req.entity, self.req.target_id)
        except QboFault as error:
            return error.fault

    def conflict_check(self, current: Mapping[str, Any], after_stale: bool) -> WriteResult | None:
        """Before applying an update on a version we did not plan against: are our fields as we left them?"""
        req = self.req
        if not changed_fields(req.payload, current, req.owned):
            return self.result("done", current)  # QBO already holds what we want
        if req.base is None:
            if not after_stale:
                return None  # planned without a version: the sparse update applies to the current one
            return self.result("conflict", current, local_fault(
                "conflict", "the document changed in QuickBooks and the last written values are unknown"))
        changed = changed_fields(req.base, current, req.owned)
        if changed:
            return self.result("conflict", current, local_fault(
                "conflict", f"changed in QuickBooks since the last sync: {', '.join(changed)}"))
        return None

    def refresh_token(self, after_stale: bool) -> WriteResult | None:
        """Read the current SyncToken (and, for updates after a 5010, check for a conflict)."""
        current = self.current()
        if isinstance(current, Fault):
            if current.kind == "not_found" and self.req.operation == "delete":
                return self.result("done", {"Id": self.req.target_id, "status": "Deleted"})
            return self.result("failed", fault=current)
        self.token = str(current.get("SyncToken"))
        if self.req.operation == "update" and (after_stale or self.req.sync_token is None):
            return self.conflict_check(current, after_stale)
        return None

    def send(self) -> Answer:
        params, body = _body(self.req, self.token)
        self.request_id = _request_id(self.client.profile, self.req, self.token)
        self.attempts += 1
        return self.client.attempt(json_call("POST", entity_path(self.req.entity), body,
                                             {**params, "requestid": self.request_id}))

    def run(self) -> WriteResult:
        spec = OPERATIONS[self.req.operation]
        if spec.needs_token and self.token is None:
            early = self.refresh_token(after_stale=False)
            if early is not None:
                return early
        policy = self.client.settings.retry
        stale_rounds = 0
        answer = Answer()
        for attempt in range(policy.max_attempts):
            answer = self.send()
            if answer.ok:
                return self.result("done", _record(answer.data, self.req.entity))
            fault = answer.fault
            assert fault is not None
            if answer.definite:
                if fault.kind == "stale_object" and spec.needs_token:
                    stale_rounds += 1
                    if stale_rounds > self.client.settings.max_conflict_retries:
                        return self.result("conflict", fault=fault)
                    early = self.refresh_token(after_stale=True)
                    if early is not None:
                        return early
                    continue
                return self.result("failed", fault=fault)
            # No definite answer: find the document before sending anything again.
            self.client.backoff(attempt, answer)
            found = recovery.probe(self.client, self.req, self.token)
            if found is not None:
                return self.result("done", found, recovered=True)
        detail = f"no definite answer after {self.attempts} attempts ({answer.fault.kind if answer.fault else ''})"
        return self.result("uncertain", fault=UncertainOutcome(Fault(KINDS["uncertain"], detail=detail)).fault)


def _record(data: Any, entity: str) -> dict[str, Any]:
    if isinstance(data, Mapping) and isinstance(data.get(entity), Mapping):
        return dict(data[entity])
    return {}


def execute(client: QboClient, req: WriteRequest) -> WriteResult:
    """Run one write to completion: done, failed (with a classed fault), conflict or uncertain."""
    checked = normalise(req)
    if isinstance(checked, Fault):
        return WriteResult(req, "failed", fault=checked)
    return _Write(client, checked).run()
