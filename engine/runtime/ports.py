"""The seams between the runtime and the outside world, as Protocols.

The runtime never imports a connector: a target (QBO) and sources (product side) are handed in,
so tests, the sandbox and the real service plug in the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.context import ReferenceData

__all__ = ["Attacher", "BulkReader", "Fetcher", "LedgerEntry", "LiveReads", "Source", "Target", "TargetWrite",
           "WriteOutcome", "Writer"]

Criteria = tuple[tuple[str, Any], ...]  # a match lookup: ((field, value), ...)


class Target(Protocol):
    """Read access to the target system (QBO) while planning."""

    def reference_data(self) -> ReferenceData: ...

    def get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None: ...

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None: ...

    def fingerprint(self) -> str:
        """A hash of the reference data a plan was computed against (to refuse stale saved plans)."""
        ...


@dataclass(frozen=True)
class LiveReads:
    """What a bulk read found for one chunk of a plan: records by ``(entity, id)`` and match lookups by
    ``(entity, criteria)``, None meaning "not there". A pair left out was not answered: read it alone."""

    records: Mapping[tuple[str, str], Mapping[str, Any] | None] = field(default_factory=dict)
    matches: Mapping[tuple[str, Criteria], Mapping[str, Any] | None] = field(default_factory=dict)


class BulkReader(Protocol):
    """A target that reads many records and match lookups at once, so a plan costs a few requests per
    chunk instead of one per record. Optional: a plain ``Target`` is read one record at a time."""

    def read_many(self, gets: Sequence[tuple[str, str]], finds: Sequence[tuple[str, Criteria]]) -> LiveReads: ...


class Source(Protocol):
    """Records of one side of a flow."""

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class TargetWrite:
    """One write the runtime asks the target to carry out."""

    entity: str
    operation: str  # create, update, void, delete
    payload: Mapping[str, Any]
    request_id: str
    flow: str
    source_key: str
    target_id: str | None = None
    sync_token: str | None = None
    owned_fields: tuple[str, ...] = ()
    match: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """What became of a write: the target record, or a classified fault."""

    write: TargetWrite
    ok: bool
    record: Mapping[str, Any] | None = None
    fault_class: str | None = None  # config, data, transient, conflict
    code: str | None = None
    message: str | None = None
    hint: str | None = None
    resync_may_fix: bool = False


class Attacher(Protocol):
    """Uploads a file and links it to a written record (receipts, invoice PDFs)."""

    def attach(self, write: TargetWrite, content: bytes) -> WriteOutcome:
        """``write.payload`` holds file_name and content_type; ``write.target_id`` the record to link."""
        ...


class Fetcher(Protocol):
    """Gets a file's bytes from a product URL or a path relative to the pack."""

    def fetch(self, url: str) -> bytes: ...


class Writer(Protocol):
    def write(self, write: TargetWrite) -> WriteOutcome: ...

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]: ...


@dataclass(frozen=True)
class LedgerEntry:
    flow: str
    source_key: str
    target_entity: str
    target_id: str | None
    sync_token: str | None
    payload_hash: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    state: str | None = None
    origin: str = "passerelle"
