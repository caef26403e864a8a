"""The QuickBooks Online connector: a thin synchronous httpx client (see docs/qbo-connector.md).

Public API (imported lazily, so ``import connectors.qbo.entities`` stays cheap)::

    from connectors.qbo import QboClient, ClientSettings, WriteRequest, WriteResult, Fault, QboFault
    client = open_client(loaded_profile)            # or QboClient(httpx.Client(...), ClientSettings(...))
    client.query_all("Invoice", "TxnDate >= '2025-01-01'")
    client.write(WriteRequest("Invoice", "create", payload, flow="invoices", source_key="42"))
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AsgiBridge": "connectors.qbo.inprocess",
    "BearerAuth": "connectors.qbo.auth",
    "CdcResult": "connectors.qbo.reads",
    "ChangedRecord": "connectors.qbo.reads",
    "ClientSettings": "connectors.qbo.config",
    "Fault": "connectors.qbo.faults",
    "FaultClass": "connectors.qbo.faults",
    "LimitSpec": "connectors.qbo.config",
    "OAuthTokens": "connectors.qbo.oauth",
    "QboClient": "connectors.qbo.client",
    "QboFault": "connectors.qbo.faults",
    "RateLimiter": "connectors.qbo.limiter",
    "ReconnectRequired": "connectors.qbo.faults",
    "ReferenceCache": "connectors.qbo.reads",
    "RetryPolicy": "connectors.qbo.config",
    "StaticToken": "connectors.qbo.auth",
    "TokenStore": "connectors.qbo.tokens",
    "UncertainOutcome": "connectors.qbo.faults",
    "Upload": "connectors.qbo.upload",
    "WriteRequest": "connectors.qbo.writes",
    "WriteResult": "connectors.qbo.writes",
    "open_client": "connectors.qbo.profile",
    "planned_request_id": "connectors.qbo.writes",
    "request_id": "connectors.qbo.requestid",
}

__all__ = [
    "AsgiBridge",
    "BearerAuth",
    "CdcResult",
    "ChangedRecord",
    "ClientSettings",
    "Fault",
    "FaultClass",
    "LimitSpec",
    "OAuthTokens",
    "QboClient",
    "QboFault",
    "RateLimiter",
    "ReconnectRequired",
    "ReferenceCache",
    "RetryPolicy",
    "StaticToken",
    "TokenStore",
    "UncertainOutcome",
    "Upload",
    "WriteRequest",
    "WriteResult",
    "open_client",
    "planned_request_id",
    "request_id",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'connectors.qbo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
