"""The batch endpoint: up to 30 independent items, each answered with its entity, QueryResponse or Fault.

Items run in order but independently; one item's fault never stops the others. Batch ``void`` and
other operations the XSD lists but the API reference does not document are answered with fault 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.sandbox.catalogue import ENTITIES
from connectors.sandbox.errors import QboError
from connectors.sandbox.operations import Operation

__all__ = ["MAX_BATCH_ITEMS", "run_batch"]

MAX_BATCH_ITEMS = 30
_OPERATIONS: dict[str, Operation] = {"create": "create", "update": "update", "delete": "delete"}

Writer = Callable[[str, Any, Operation], dict[str, Any]]
Querier = Callable[[str], dict[str, Any]]


def _item_entity(item: dict[str, Any]) -> str:
    names = [key for key in item if key in ENTITIES]
    if len(names) != 1:
        raise QboError("2020", "Required parameter entity object is missing in the batch item", "BatchItemRequest")
    return names[0]


def _run_item(item: Any, write: Writer, query: Querier) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise QboError("2010", "Each BatchItemRequest must be an object", "BatchItemRequest")
    if "Query" in item:
        return {"QueryResponse": query(str(item["Query"]))}
    operation = item.get("operation")
    if operation not in _OPERATIONS:
        raise QboError("500", f"Operation {operation} is not supported.", "operation")
    entity = _item_entity(item)
    result = write(entity, item[entity], _OPERATIONS[operation])
    return {entity: result}


def run_batch(body: Any, write: Writer, query: Querier, request_id: str | None) -> dict[str, Any]:
    """Run a ``BatchItemRequest`` body; 1040 above 30 items."""
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise QboError("2020", "Required parameter BatchItemRequest is missing in the request",
                       "BatchItemRequest")
    if len(items) > MAX_BATCH_ITEMS:
        raise QboError("1040", f"Batch size exceeds allowed limit: {len(items)} items, at most "
                               f"{MAX_BATCH_ITEMS}", "BatchItemRequest")
    responses = []
    for item in items:
        bid = item.get("bId") if isinstance(item, dict) else None
        if request_id is not None and bid is not None and len(str(bid)) > 10:
            response: dict[str, Any] = {"Fault": QboError("2050", "bId may be at most 10 characters when a "
                                                                  "requestid is used", "bId").fault()}
        else:
            try:
                response = _run_item(item, write, query)
            except QboError as error:
                response = {"Fault": error.fault()}
        responses.append({"bId": bid, **response})
    return {"BatchItemResponse": responses}
