"""What a compiled flow needs from the world while it maps one record: reference data (the QBO
company's accounts, items, customers ...) and the ledger (which source key became which QBO id).

Both are Protocols so the offline ``explain`` command, the tests and the live runtime can each
pass their own. Evaluation never writes: records to create are returned as ``PendingCreate``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "OMIT", "EvalContext", "Ledger", "NoLedger", "PendingCreate", "PlaceholderReferenceData", "ReferenceData",
    "SourceRecords", "StaticReferenceData", "TraceEntry", "field_values",
]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()  # a value that leaves its field out


class ReferenceData(Protocol):
    def find(self, entity: str, by: str, value: Any) -> Mapping[str, Any] | None:
        """The record of ``entity`` whose field ``by`` equals ``value``, or None."""


class SourceRecords(Protocol):
    """Reference data that can also find records of a source connection's resources (`ref: {connection}`);
    reference data without it (offline `explain`) finds none there."""

    def find_record(self, connection: str, resource: str, by: str, value: Any) -> Mapping[str, Any] | None:
        """The record of ``resource`` of ``connection`` whose field ``by`` equals ``value``, or None."""


class Ledger(Protocol):
    def target_id(self, flow: str, key: str) -> str | None:
        """The target id the record ``key`` of ``flow`` was written to, or None."""

    def target_field(self, flow: str, key: str, field: str) -> Any:
        """A field of the target record ``key`` of ``flow`` was written to, or None."""


def field_values(record: Mapping[str, Any], path: str) -> list[Any]:
    """The values at a dotted ``path`` of a record, crossing lists (``SalesTaxRateList.TaxRateDetail.TaxRateRef.name``
    gives one name per rate); None and missing values are left out. Reference data index records by these."""
    level: list[Any] = [record]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in level:
            for item in (value if isinstance(value, list | tuple) else (value,)):
                if isinstance(item, Mapping) and item.get(part) is not None:
                    nxt.append(item[part])
        level = nxt
    return [v for value in level for v in (value if isinstance(value, list | tuple) else (value,)) if v is not None]


class StaticReferenceData:
    """Reference data held in memory, indexed per (entity, field) on first use."""

    revision = 0  # what it finds never changes (refs remember their answers, engine.compile._RefMemo)

    def __init__(self, records: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        self._records = {entity: list(rows) for entity, rows in records.items()}
        self._index: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}

    def find(self, entity: str, by: str, value: Any) -> Mapping[str, Any] | None:
        index = self._index.get((entity, by))
        if index is None:
            index = self._build(entity, by)
        if value is None:
            return None
        return index.get(value if type(value) is str else str(value))

    def _build(self, entity: str, by: str) -> dict[str, Mapping[str, Any]]:
        index: dict[str, Mapping[str, Any]] = {}
        for record in self._records.get(entity, ()):
            if record.get("Active", True) is not False:
                for found in field_values(record, by):
                    index.setdefault(str(found), record)
        self._index[(entity, by)] = index
        return index

    def records(self, entity: str) -> list[Mapping[str, Any]]:
        return list(self._records.get(entity, ()))


class PlaceholderReferenceData:
    """Offline stand-in: every lookup 'finds' a record whose Id names what was looked up."""

    revision = 0

    def find(self, entity: str, by: str, value: Any) -> Mapping[str, Any] | None:
        if value is None:
            return None
        label = str(value)
        return {"Id": f"<{entity} {by}={label}>", "Name": label, "DisplayName": label}


@dataclass
class NoLedger:
    """Offline stand-in: ledger references become placeholders naming the flow and key."""

    known: Mapping[tuple[str, str], str] = field(default_factory=dict)
    placeholders: bool = True

    def target_id(self, flow: str, key: str) -> str | None:
        if (flow, key) in self.known:
            return self.known[(flow, key)]
        return f"<{flow} {key}>" if self.placeholders else None

    def target_field(self, flow: str, key: str, field: str) -> Any:
        return {"value": f"<{field} of {flow} {key}>"} if self.placeholders else None


@dataclass(frozen=True)
class PendingCreate:
    """A referenced record that does not exist yet and that the plan must create first."""

    entity: str
    by: str
    value: str
    fields: Mapping[str, Any]

    @property
    def placeholder(self) -> str:
        return f"$new:{self.entity}:{self.by}={self.value}"


@dataclass(frozen=True)
class TraceEntry:
    """Which rule produced a field of a payload."""

    target: str
    rule: str
    kind: str
    detail: str = ""


@dataclass
class EvalContext:
    """Per-record working state of one evaluation (never shared between records)."""

    refs: ReferenceData
    ledger: Ledger
    trace: list[TraceEntry] | None = None
    pending: dict[tuple[str, str, str], PendingCreate] = field(default_factory=dict)
    lookups: defaultdict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
