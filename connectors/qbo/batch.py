"""Batch writes: up to 30 items per call, one :class:`WriteResult` per request, in the caller's order.

- Items are independent in QBO (one item's fault never stops another), so results are per item.
- ``bId`` is the item's position in its chunk ("0".."29", within QBO's 10 characters); the batch's own
  ``requestid`` is a UUID over the items' planned request ids (36 characters, QBO's batch limit), so a
  re-sent batch is replayed by QBO, not executed twice.
- A batch call without a definite answer (timeout, 5xx, 429) is sent again with the same requestid.
- Items that cannot go in a batch (void; updates and deletes whose SyncToken is unknown) and items that
  fail with a fault a single write handles better (5010 stale object, transient faults) are run through
  :func:`connectors.qbo.writes.execute`, which re-reads, checks for conflicts and recovers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.qbo import recovery
from connectors.qbo.exchange import Answer, json_call
from connectors.qbo.faults import KINDS, Fault, fault_from_item
from connectors.qbo.requestid import NAMESPACE
from connectors.qbo.writes import OPERATIONS, WriteRequest, WriteResult, execute, normalise, planned_request_id

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient

__all__ = ["MAX_BATCH", "run_batch"]

MAX_BATCH = 30
_RETRY_ALONE = frozenset({"stale_object", "throttled", "server_error", "timeout", "connection"})


def _batchable(req: WriteRequest) -> bool:
    spec = OPERATIONS[req.operation]
    return spec.batch_name is not None and (not spec.needs_token or req.sync_token is not None)


def _item(index: int, req: WriteRequest) -> dict[str, Any]:
    spec = OPERATIONS[req.operation]
    _, body = spec.build(req, req.sync_token)
    return {"bId": str(index), "operation": spec.batch_name, req.entity: body}


def _send(client: QboClient, chunk: Sequence[WriteRequest]) -> tuple[Answer, str]:
    ids = [planned_request_id(client.profile, req) for req in chunk]
    batch_id = str(uuid.uuid5(NAMESPACE, "batch\x1f" + "\x1f".join(ids)))
    params = {"requestid": batch_id}
    if any(req.allow_duplicate_docnum for req in chunk):
        params["include"] = "allowduplicatedocnum"
    call = json_call("POST", "batch", {"BatchItemRequest": [_item(i, req) for i, req in enumerate(chunk)]}, params)
    call = type(call)(call.method, call.path, call.params, call.body, call.content_type, is_batch=True)
    policy = client.settings.retry
    answer = Answer()
    for attempt in range(policy.max_attempts):
        answer = client.attempt(call)
        if answer.ok or answer.definite:
            return answer, batch_id
        client.backoff(attempt, answer)  # no definite answer: the same requestid makes the re-send a replay
    return answer, batch_id


def _results(client: QboClient, chunk: Sequence[WriteRequest], data: Any, batch_id: str) -> list[WriteResult]:
    by_bid: dict[str, Mapping[str, Any]] = {}
    for item in (data or {}).get("BatchItemResponse") or ():
        by_bid[str(item.get("bId"))] = item
    results = []
    for index, req in enumerate(chunk):
        item = by_bid.get(str(index))
        if item is None:
            results.append(execute(client, req))  # no answer for this item: the single path recovers
            continue
        if isinstance(item.get("Fault"), Mapping):
            fault = fault_from_item(item["Fault"]).about(req.entity, req.operation)
            if fault.kind in _RETRY_ALONE:
                results.append(execute(client, req))
            else:
                results.append(WriteResult(req, "failed", batch_id, fault=fault, attempts=1))
            continue
        record = item.get(req.entity)
        record = dict(record) if isinstance(record, Mapping) else {}
        client.remember(req.entity, record)
        results.append(WriteResult(req, "done", batch_id, record, attempts=1))
    return results


def _recover(client: QboClient, req: WriteRequest, batch_id: str) -> WriteResult:
    """A batch that never got a definite answer: look for each item's document; the rest stay uncertain."""
    found = recovery.probe(client, req, req.sync_token)
    if found is not None:
        client.remember(req.entity, found)
        return WriteResult(req, "done", batch_id, found, recovered=True, attempts=1)
    fault = Fault(KINDS["uncertain"], detail="the batch call got no definite answer and the document was not found")
    return WriteResult(req, "uncertain", batch_id, fault=fault.about(req.entity, req.operation), attempts=1)


def run_batch(client: QboClient, requests: Sequence[WriteRequest]) -> list[WriteResult]:
    """Run every request; batchable ones 30 at a time, the rest one by one. Results keep the input order."""
    results: dict[int, WriteResult] = {}
    batchable: list[tuple[int, WriteRequest]] = []
    for index, req in enumerate(requests):
        checked = normalise(req)
        if isinstance(checked, Fault):
            results[index] = WriteResult(req, "failed", fault=checked)
        elif _batchable(checked):
            batchable.append((index, checked))
        else:
            results[index] = execute(client, checked)
    for start in range(0, len(batchable), MAX_BATCH):
        chunk = batchable[start:start + MAX_BATCH]
        reqs = [req for _, req in chunk]
        answer, batch_id = _send(client, reqs)
        if answer.ok:
            outcome = _results(client, reqs, answer.data, batch_id)
        elif answer.fault is not None and answer.fault.kind in ("batch_too_large", "authentication"):
            outcome = [WriteResult(req, "failed", batch_id, fault=answer.fault) for req in reqs]
        elif answer.fault is not None and answer.definite:
            outcome = [execute(client, req) for req in reqs]  # the batch call itself was refused
        else:
            outcome = [_recover(client, req, batch_id) for req in reqs]
        for (index, _), result in zip(chunk, outcome, strict=True):
            results[index] = result
    return [results[index] for index in range(len(requests))]
