"""Reads: queries paged to exhaustion, change data capture since a cursor, and the reference-data cache.

Queries go as ``POST /query`` with ``Content-Type: application/text`` (no URL length limit), ordered by
``Id`` so pages are stable, 1000 rows a page (QBO's maximum). Name lists return active records only
unless asked otherwise (``include_inactive`` adds ``Active IN (true, false)``).

CDC returns at most 1000 objects per answer across all entities; when an answer is full the next
request starts from the last ``LastUpdatedTime`` seen, and duplicates are folded, so a large backlog
is read completely. The cursor to keep for next time is the answer's own ``time``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.qbo.entities import ENTITIES
from connectors.qbo.exchange import Call
from engine.context import field_values

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient

__all__ = [
    "REFERENCE_ENTITIES",
    "CdcResult",
    "ChangedRecord",
    "ReferenceCache",
    "change_data_capture",
    "entity_path",
    "query_all",
    "quote",
    "select",
]

REFERENCE_ENTITIES = ("Account", "TaxCode", "TaxRate", "Class", "Department", "Item", "Customer", "Vendor", "Term",
                      "PaymentMethod")
CDC_PAGE = 1000


def entity_path(entity: str) -> str:
    """The URL segment of an entity (``BillPayment`` → ``billpayment``)."""
    spec = ENTITIES.get(entity)
    if spec is None:
        raise ValueError(f"unknown QBO entity {entity!r}")
    return spec.path


def quote(value: Any) -> str:
    """A literal for the query language: strings quoted with ``\\'`` escapes, booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def select(entity: str, where: str = "", *, count: bool = False, start: int | None = None,
           size: int | None = None) -> str:
    entity_path(entity)  # validates the name
    text = f"SELECT {'COUNT(*)' if count else '*'} FROM {entity}"
    if where:
        text += f" WHERE {where}"
    if not count:
        text += " ORDERBY Id"
    if start is not None:
        text += f" STARTPOSITION {start}"
    if size is not None:
        text += f" MAXRESULTS {size}"
    return text


def _with_inactive(entity: str, where: str) -> str:
    if ENTITIES[entity].family != "name-list" or "active" in where.lower():
        return where
    clause = "Active IN (true, false)"
    return f"{where} AND {clause}" if where else clause


def query_all(client: QboClient, entity: str, where: str = "", *, include_inactive: bool = False
              ) -> Iterator[dict[str, Any]]:
    """Every matching record, one page (≤ 1000 rows) at a time, until a short page."""
    if include_inactive:
        where = _with_inactive(entity, where)
    size = client.settings.page_size
    start = 1
    while True:
        page = client.query(select(entity, where, start=start, size=size))
        rows: list[dict[str, Any]] = page.get(entity) or []
        yield from rows
        if len(rows) < size:
            return
        start += len(rows)


@dataclass(frozen=True)
class ChangedRecord:
    entity: str
    id: str
    deleted: bool
    record: Mapping[str, Any]

    @property
    def last_updated(self) -> str:
        return str((self.record.get("MetaData") or {}).get("LastUpdatedTime") or "")


@dataclass(frozen=True)
class CdcResult:
    """What changed since the cursor, oldest first, and the cursor to use next time."""

    changes: tuple[ChangedRecord, ...]
    cursor: str

    def of(self, entity: str) -> list[ChangedRecord]:
        return [change for change in self.changes if change.entity == entity]


def _as_text(since: datetime | str) -> str:
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValueError("a CDC cursor must be timezone-aware")
        return since.isoformat(timespec="seconds")
    return since


def _parse_cdc(data: Mapping[str, Any], wanted: Sequence[str]) -> list[ChangedRecord]:
    found: list[ChangedRecord] = []
    for block in data.get("CDCResponse") or ():
        for response in block.get("QueryResponse") or ():
            for entity in wanted:
                for row in response.get(entity) or ():
                    found.append(ChangedRecord(entity, str(row.get("Id")), row.get("status") == "Deleted", row))
    return found


def change_data_capture(client: QboClient, entities: Sequence[str], since: datetime | str) -> CdcResult:
    """Every change to ``entities`` since ``since`` (within QBO's 30-day window)."""
    for entity in entities:
        entity_path(entity)
    wanted = list(dict.fromkeys(entities))
    cursor = _as_text(since)
    latest: dict[tuple[str, str], ChangedRecord] = {}
    next_cursor = ""
    while True:
        data = client.call(Call("GET", "cdc", {"entities": ",".join(wanted), "changedSince": cursor}))
        next_cursor = next_cursor or str(data.get("time") or "")
        page = _parse_cdc(data, wanted)
        for change in page:
            latest[(change.entity, change.id)] = change
        stamps = [change.last_updated for change in page if change.last_updated]
        if len(page) < CDC_PAGE or not stamps or max(stamps) == cursor:
            break
        cursor = max(stamps)
    ordered = sorted(latest.values(), key=lambda change: change.last_updated)
    return CdcResult(tuple(ordered), next_cursor or cursor)


class ReferenceCache:
    """The company's reference data, each entity loaded once (all pages, inactive too) on first use.

    Satisfies the engine's ``ReferenceData`` protocol: ``find(entity, by, value)`` returns the active
    record whose field ``by`` (dotted for nested fields) equals ``value``, else an inactive one, else None.
    """

    def __init__(self, client: QboClient) -> None:
        self._client = client
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._index: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.loads = 0  # how many entity lists were fetched (tests check the cache works)
        self.revision = 0  # bumped by remember(): what find() answers may have changed
        self.since: str | None = None  # QBO's clock at the first answer: what CDC asks about since this data

    def loaded(self) -> tuple[str, ...]:
        """The entities read so far (a plan's fingerprint covers these)."""
        with self._lock:
            return tuple(self._records)

    def records(self, entity: str) -> list[dict[str, Any]]:
        with self._lock:
            if entity not in self._records:
                if entity == "Preferences":
                    self._records[entity] = [self._client.preferences()]
                else:
                    self._records[entity] = self._read_all(entity)
                self.loads += 1
            return self._records[entity]

    def _read_all(self, entity: str) -> list[dict[str, Any]]:
        """Every record, inactive too, page after page; notes the server's time of the first answer."""
        where = _with_inactive(entity, "")
        size = self._client.settings.page_size
        rows: list[dict[str, Any]] = []
        while True:
            text = select(entity, where, start=len(rows) + 1, size=size)
            data = self._client.call(Call("POST", "query", body=text.encode("utf-8"), content_type="application/text"))
            if self.since is None and data.get("time"):
                self.since = str(data["time"])
            page: list[dict[str, Any]] = (data.get("QueryResponse") or {}).get(entity) or []
            rows.extend(page)
            if len(page) < size:
                return rows

    def load(self, entities: Iterable[str] = REFERENCE_ENTITIES) -> ReferenceCache:
        """Fetch several entities up front (e.g. at the start of a run)."""
        for entity in entities:
            self.records(entity)
        return self

    def find(self, entity: str, by: str, value: Any) -> Mapping[str, Any] | None:
        if value is None:
            return None
        with self._lock:
            key = (entity, by)
            index = self._index.get(key)
            if index is None:
                index = {}
                rows = self.records(entity)
                for row in sorted(rows, key=lambda r: r.get("Active", True) is False):
                    for found in field_values(row, by):
                        index.setdefault(str(found), row)
                self._index[key] = index
            return index.get(str(value))

    def remember(self, entity: str, record: Mapping[str, Any]) -> None:
        """Add or replace a record the run just wrote, so later lookups find it without a reload."""
        with self._lock:
            rows = self._records.get(entity)
            if rows is None:
                return
            row = dict(record)
            self.revision += 1
            rows[:] = [existing for existing in rows if existing.get("Id") != row.get("Id")] + [row]
            for (name, by), index in self._index.items():
                if name == entity:
                    for value, existing in list(index.items()):
                        if existing.get("Id") == row.get("Id"):
                            del index[value]
                    for found in field_values(row, by):
                        if str(found) not in index or row.get("Active", True) is not False:
                            index[str(found)] = row

    def preferences(self) -> Mapping[str, Any]:
        return self._client.preferences()
