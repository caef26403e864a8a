"""Deterministic request ids: the same planned write always carries the same ``requestid``.

QBO remembers a ``requestid`` per company and answers a repeat with the first response instead of
executing it again (reference §1). So the id must be a pure function of *what* is written:

    requestid = uuid5(NAMESPACE, "profile␟flow␟source_key␟entity␟operation␟sha256(canonical payload)")

A UUID is 36 characters: under QBO's 50 for a single request and its 36 for a batch. The payload hash
makes a changed record a new request (a replay of the old one would be wrong), while a crash, a timeout
or a redelivered webhook re-sends the same id. Batch item ids (``bId``, at most 10 characters) are the
item's position, which is enough inside one batch.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.qbo.wire import dumps

__all__ = ["MAX_BATCH_REQUEST_ID", "MAX_REQUEST_ID", "NAMESPACE", "payload_hash", "request_id"]

NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c7d-9e0f-a1b2c3d4e5f6")
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
_SEP = "\x1f"


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value).normalize()
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    if isinstance(value, Decimal):
        return value.normalize() if value.is_finite() else value
    return value


def payload_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of the payload with keys sorted and numbers normalised (``10.0`` == ``10``)."""
    return hashlib.sha256(dumps(_canonical(payload))).hexdigest()


def request_id(profile: str, *, flow: str, source_key: str, entity: str, operation: str,
               payload: Mapping[str, Any]) -> str:
    """The ``requestid`` of one planned write."""
    name = _SEP.join((profile, flow, source_key, entity, operation, payload_hash(payload)))
    return str(uuid.uuid5(NAMESPACE, name))
