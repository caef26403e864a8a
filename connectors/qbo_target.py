"""The QBO client seen through the runtime's ports: a ``Target`` for planning and a ``Writer`` for
apply. It translates between the runtime's plain values and the connector's requests, results and
typed faults, so the engine never imports the connector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from connectors.qbo import bulk
from connectors.qbo.bulk import Criteria
from connectors.qbo.client import QboClient
from connectors.qbo.faults import QboFault
from connectors.qbo.reads import REFERENCE_ENTITIES
from connectors.qbo.upload import Upload
from connectors.qbo.writes import WriteRequest, WriteResult
from engine.context import ReferenceData
from engine.model import Refusal
from engine.runtime.ports import LiveReads, TargetWrite, WriteOutcome

__all__ = ["NOT_IN_CDC", "QboSource", "QboTarget", "tombstone"]

NOT_IN_CDC = ("TaxCode", "TaxRate")  # reference entities QBO's change data capture does not cover


class QboTarget:
    def __init__(self, client: QboClient, refusals: Mapping[str, Sequence[Refusal]] | None = None) -> None:
        """``refusals``: by flow, the pack's hints for QBO's refusals of that flow's writes."""
        self.client = client
        self.refusals = dict(refusals or {})

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

    # -- BulkReader: a plan's chunk of reads in a few queries -----------------------------------------
    def read_many(self, gets: Sequence[tuple[str, str]], finds: Sequence[tuple[str, Criteria]]) -> LiveReads:
        return LiveReads(records=bulk.get_many(self.client, gets), matches=bulk.find_many(self.client, finds))

    def is_voided(self, record: Mapping[str, Any]) -> bool:
        """QBO keeps a voided transaction with zero amounts and "Voided" at the head of its memo."""
        return str(record.get("PrivateNote") or "").startswith("Voided")

    def preferences(self) -> Mapping[str, Any]:
        return self.client.preferences()

    def fingerprint(self) -> str:
        """``cdc:SINCE|Entity=HASH,...``: each reference entity this plan read, hashed (ids and SyncTokens), as of
        QBO's clock SINCE. Without any reference read, a hash of every reference entity."""
        cache = self.client.reference_data()
        loaded = tuple(e for e in REFERENCE_ENTITIES if e in cache.loaded())
        if cache.since is None or not loaded:
            return self._digest(REFERENCE_ENTITIES)
        return f"cdc:{cache.since}|" + ",".join(f"{e}={self._digest((e,))}" for e in loaded)

    def is_current(self, fingerprint: str) -> bool:
        """Whether the reference data a plan was computed against is unchanged (a saved plan's stale check):
        one change-data-capture call since the plan's reads; the entities CDC does not cover (tax codes and
        rates), and all of them when CDC reports a change, are read again and hashed."""
        if not fingerprint.startswith("cdc:"):
            return self._digest(REFERENCE_ENTITIES) == fingerprint
        since, _, hashes = fingerprint[4:].partition("|")
        wanted = dict(part.split("=", 1) for part in hashes.split(",") if "=" in part)
        entities = [e for e in wanted if e in REFERENCE_ENTITIES]
        covered = [e for e in entities if e not in NOT_IN_CDC]
        try:
            quiet = not covered or not self.client.cdc(covered, since).changes
        except QboFault:  # past CDC's 30 days, or a cursor QBO refuses: hash instead
            quiet = False
        return all(self._digest((e,)) == wanted[e] for e in entities if e in NOT_IN_CDC or not quiet)

    def _digest(self, entities: Sequence[str]) -> str:
        cache = self.client.reference_data()
        digest = hashlib.sha256()
        for entity in entities:
            for record in sorted(cache.records(entity), key=lambda r: str(r.get("Id"))):
                digest.update(f"{entity}:{record.get('Id')}:{record.get('SyncToken')}\n".encode())
        return digest.hexdigest()[:16]

    # -- Writer ----------------------------------------------------------------------------------
    def write(self, write: TargetWrite) -> WriteOutcome:
        return self._explained(_outcome(write, self.client.write(_request(write))))

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        results = self.client.batch([_request(w) for w in writes])
        return [self._explained(_outcome(w, r)) for w, r in zip(writes, results, strict=True)]

    def _explained(self, outcome: WriteOutcome) -> WriteOutcome:
        """A refusal with the pack's own hint when one of its flow's ``refusals`` matches."""
        if outcome.ok:
            return outcome
        text = (outcome.message or "").casefold()
        for refusal in self.refusals.get(outcome.write.flow, ()):
            if (refusal.code is None or refusal.code == outcome.code) and (
                    refusal.contains is None or refusal.contains.casefold() in text):
                return replace(outcome, hint=refusal.hint)
        return outcome

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

    def gone(self, resource: str, ids: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Of these ids, those QBO no longer holds (deleted), each with a tombstone shaped as QBO's change data
        capture reports a deletion: ``{"Id": ..., "status": "Deleted"}``; and the name-list records it holds
        inactive, since deactivating is how QBO deletes an account, a class or a tax code (their tombstone says
        ``status: Inactive``). One bulk query per 1000 ids."""
        found = bulk.get_many(self.target.client, [(resource, i) for i in ids])
        for entity_id in ids:
            record = found.get((resource, entity_id), {})
            if record is None:
                yield entity_id, tombstone(entity_id)
            elif record.get("Active") is False:
                yield entity_id, {**tombstone(entity_id), "status": "Inactive"}


def tombstone(entity_id: str, last_updated: str = "") -> Mapping[str, Any]:
    """A deleted QBO record as change data capture and webhooks tell it: its id and status Deleted."""
    stone: dict[str, Any] = {"Id": entity_id, "status": "Deleted"}
    if last_updated:
        stone["MetaData"] = {"LastUpdatedTime": last_updated}
    return stone
