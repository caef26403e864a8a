"""Reference data for one plan that also finds records of a source connection's other resources.

A flow may look up a record of another resource of a product connection (`ref: {connection, entity, by,
value}`), e.g. the product catalogue entry behind an invoice line. The resource is read in full once per
plan, on first use, and indexed per matched field, so a plan of many records costs one read of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.build import freeze
from engine.context import ReferenceData
from engine.errors import PasserelleError
from engine.runtime.ports import Source

__all__ = ["SourceBackedReferenceData"]


class SourceBackedReferenceData:
    """The target's reference data, plus ``find_record`` over the plan's sources."""

    def __init__(self, refs: ReferenceData, sources: Mapping[str, Source]) -> None:
        self._refs = refs
        self._sources = sources
        self._read: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        self._index: dict[tuple[str, str, str], dict[str, Mapping[str, Any]]] = {}

    def find(self, entity: str, by: str, value: Any) -> Mapping[str, Any] | None:
        return self._refs.find(entity, by, value)

    @property
    def revision(self) -> Any:
        """The wrapped reference data's (None: it does not say when what it finds changes)."""
        return getattr(self._refs, "revision", None)

    def find_record(self, connection: str, resource: str, by: str, value: Any) -> Mapping[str, Any] | None:
        source = self._sources.get(connection)
        if source is None or value is None:
            return None
        index = self._index.get((connection, resource, by))
        if index is None:
            index = self._index[(connection, resource, by)] = self._build(source, connection, resource, by)
        return index.get(value if type(value) is str else str(value))

    def _build(self, source: Source, connection: str, resource: str, by: str) -> dict[str, Mapping[str, Any]]:
        records = self._read.get((connection, resource))
        if records is None:
            records = self._read[(connection, resource)] = _read(source, resource)
        index: dict[str, Mapping[str, Any]] = {}
        for record in records:
            found: Any = record
            for part in by.split("."):
                found = found.get(part) if isinstance(found, Mapping) else None
            if found is not None and found != "":
                index.setdefault(str(found), record)  # the first record with that value wins
        return index


def _read(source: Source, resource: str) -> list[Mapping[str, Any]]:
    """Every record of the resource; none when the connection does not have it (a profile's files for a replay
    or a demo may leave out a resource the pack's API declaration has: lookups then find nothing)."""
    try:
        return [freeze(r) for r in source.records(resource)]
    except PasserelleError as exc:
        if all(e.code == "E321" for e in exc.errors):
            return []
        raise
