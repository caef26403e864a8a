"""The QBO client seen through the runtime's ports: a ``Target`` for planning and a ``Writer`` for
apply. It translates between the runtime's plain values and the connector's requests, results and
typed faults, so the engine never imports the connector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.qbo.client import QboClient
from connectors.qbo.faults import QboFault
from connectors.qbo.reads import REFERENCE_ENTITIES
from connectors.qbo.upload import Upload
from connectors.qbo.writes import WriteRequest, WriteResult
from engine.context import ReferenceData
from engine.runtime.ports import TargetWrite, WriteOutcome

__all__ = ["QboSource", "QboTarget"]


class QboTarget:
    def __init__(self, client: QboClient) -> None:
        self.client = client

    # -- Target ----------------------------------------------------------------------------------
    def reference_data(self) -> ReferenceData:
        return self.client.reference_data()

    def get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None:
        try:
            return self.client.get(entity, entity_id)
        except QboFault as error:
            if error.fault.spec.kind == "not_found":
                return None
            raise

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.client.find(entity, criteria)

    def is_voided(self, record: Mapping[str, Any]) -> bool:
        """QBO keeps a voided transaction with zero amounts and "Voided" at the head of its memo."""
        return str(record.get("PrivateNote") or "").startswith("Voided")

    def preferences(self) -> Mapping[str, Any]:
        return self.client.preferences()

    def fingerprint(self) -> str:
        cache = self.client.reference_data()
        digest = hashlib.sha256()
        for entity in REFERENCE_ENTITIES:
            for record in sorted(cache.records(entity), key=lambda r: str(r.get("Id"))):
                digest.update(f"{entity}:{record.get('Id')}:{record.get('SyncToken')}\n".encode())
        return digest.hexdigest()[:16]

    # -- Writer ----------------------------------------------------------------------------------
    def write(self, write: TargetWrite) -> WriteOutcome:
        return _outcome(write, self.client.write(_request(write)))

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        results = self.client.batch([_request(w) for w in writes])
        return [_outcome(w, r) for w, r in zip(writes, results, strict=True)]

    def attach(self, write: TargetWrite, content: bytes) -> WriteOutcome:
        item = Upload(entity=write.entity, entity_id=write.target_id or "", filename=str(write.payload["file_name"]),
                      content=content, content_type=str(write.payload["content_type"]), flow=write.flow,
                      source_key=write.source_key)
        return _outcome(write, self.client.upload(item))

    def remember(self, entity: str, record: Mapping[str, Any]) -> None:
        """A record created during apply joins the reference data (later refs find it)."""
        self.client.remember(entity, record)


def _request(write: TargetWrite) -> WriteRequest:
    return WriteRequest(entity=write.entity, operation=write.operation, payload=write.payload,  # type: ignore[arg-type]
                        flow=write.flow, source_key=write.source_key, target_id=write.target_id,
                        sync_token=write.sync_token, owned_fields=write.owned_fields, match=write.match,
                        request_id=write.request_id)


def _outcome(write: TargetWrite, result: WriteResult) -> WriteOutcome:
    if result.ok:
        return WriteOutcome(write, True, record=result.record)
    fault = result.fault
    if fault is None:
        return WriteOutcome(write, False, fault_class="transient", message=f"write ended as {result.status}")
    return WriteOutcome(write, False, fault_class=str(fault.spec.fault_class.value), code=fault.code,
                        message=f"{fault.spec.message}: {fault.detail}".rstrip(": "), hint=fault.spec.hint,
                        resync_may_fix=fault.spec.resync_may_fix)


class QboSource:
    """QBO as the source of a flow (e.g. bills imported into a product): every record of an entity."""

    def __init__(self, target: QboTarget) -> None:
        self.target = target

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        yield from self.target.client.query_all(resource)
