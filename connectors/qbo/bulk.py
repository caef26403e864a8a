"""Bulk reads for planning: many records by id, and many match lookups, in a few paged queries.

A plan needs, per chunk of source records, the live state of the records the ledger knows
(``SELECT * FROM Invoice WHERE Id IN (…)``) and, for new ones, whether QBO already holds a match
(``… WHERE DocNumber IN (…)``). Each list goes in ``IN`` lists of up to ``IN_LIMIT`` values, paged
with STARTPOSITION/MAXRESULTS, the queries run concurrently (the client's limiter keeps the
company's 10 in flight and 500 a minute).

A bulk answer must be the record a single :meth:`QboClient.find` returns: the first matching record
by Id, active name-list records only. Rows are assigned to lookups by the comparison QBO applies to a
quoted string (case-insensitive text); a lookup whose value QBO might compare otherwise (not text,
or shaped like a date, which QBO compares as an instant) is not answered here, and neither is any
lookup of a query that returned a row that cannot be assigned: the caller then asks the single query.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.qbo.entities import ENTITIES
from connectors.qbo.reads import quote

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient

__all__ = ["IN_LIMIT", "Criteria", "find_many", "get_many", "text_key"]

IN_LIMIT = 1000  # values per IN (...) list: QBO documents no limit; a page holds at most 1000 rows anyway
READERS = 4      # queries at once from one plan (the limiter allows 10 per company, shared with apply)
Criteria = tuple[tuple[str, Any], ...]  # ((field, value), ...) as the plan's match gives them
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
T = TypeVar("T")


def text_key(value: Any) -> str | None:
    """How QBO compares a quoted text value, or None when it might compare it otherwise."""
    if not isinstance(value, str) or _DATE.match(value):
        return None
    return value.casefold()


def _row_key(row: Mapping[str, Any], field: str) -> str | None:
    value: Any = row
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, Mapping) and "value" in value:  # a reference compares by its id
        value = value["value"]
    return value.casefold() if isinstance(value, str) else None


def _chunks(values: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _concurrently(jobs: Sequence[Callable[[], T]]) -> list[T]:
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(READERS, len(jobs)), thread_name_prefix="qbo-read") as pool:
        return list(pool.map(lambda job: job(), jobs))


def get_many(client: QboClient, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
    """``(entity, id) -> record`` for every asked pair QBO can be queried for; None when it is gone
    (name-list records are read inactive too, as a read by id returns them)."""
    by_entity: dict[str, list[str]] = defaultdict(list)
    for entity, entity_id in dict.fromkeys(wanted):
        if entity in ENTITIES and ENTITIES[entity].path and entity_id:
            by_entity[entity].append(entity_id)

    def job(entity: str, ids: Sequence[str]) -> Callable[[], dict[tuple[str, str], dict[str, Any] | None]]:
        def run() -> dict[tuple[str, str], dict[str, Any] | None]:
            where = f"Id IN ({', '.join(quote(i) for i in ids)})"
            found: dict[tuple[str, str], dict[str, Any] | None] = {(entity, i): None for i in ids}
            for row in client.query_all(entity, where, include_inactive=True):
                if (entity, str(row.get("Id"))) in found:
                    found[(entity, str(row.get("Id")))] = row
            return found
        return run

    jobs = [job(entity, ids) for entity, all_ids in by_entity.items() for ids in _chunks(all_ids, IN_LIMIT)]
    out: dict[tuple[str, str], dict[str, Any] | None] = {}
    for part in _concurrently(jobs):
        out.update(part)
    return out


def find_many(client: QboClient, wanted: Iterable[tuple[str, Criteria]]
              ) -> dict[tuple[str, Criteria], dict[str, Any] | None]:
    """``(entity, criteria) -> the record a single find returns`` (None: no match), for the lookups a bulk
    query can answer exactly; the others are left out for the caller to ask one by one."""
    groups: dict[tuple[str, tuple[str, ...]], list[Criteria]] = defaultdict(list)
    for entity, criteria in dict.fromkeys(wanted):
        if entity in ENTITIES and criteria and all(text_key(v) is not None for _, v in criteria):
            groups[(entity, tuple(name for name, _ in criteria))].append(criteria)

    def job(entity: str, fields: tuple[str, ...], lookups: Sequence[Criteria]
            ) -> Callable[[], dict[tuple[str, Criteria], dict[str, Any] | None]]:
        def run() -> dict[tuple[str, Criteria], dict[str, Any] | None]:
            keys: dict[tuple[str | None, ...], list[Criteria]] = defaultdict(list)
            for c in lookups:
                keys[tuple(text_key(v) for _, v in c)].append(c)
            where = " AND ".join(f"{name} IN ({', '.join(dict.fromkeys(quote(c[i][1]) for c in lookups))})"
                                 for i, name in enumerate(fields))
            first: dict[tuple[str, Criteria], dict[str, Any] | None] = {(entity, c): None for c in lookups}
            for row in client.query_all(entity, where):
                row_keys = tuple(_row_key(row, name) for name in fields)
                if any(k is None for k in row_keys):
                    return {}  # a row this side cannot compare as QBO did: let single queries decide
                for criteria in keys.get(row_keys, ()):
                    if first[(entity, criteria)] is None:  # rows come ordered by Id: the first is the single find's
                        first[(entity, criteria)] = row
            return first
        return run

    jobs = [job(entity, fields, part) for (entity, fields), lookups in groups.items()
            for part in _chunks(lookups, IN_LIMIT)]
    out: dict[tuple[str, Criteria], dict[str, Any] | None] = {}
    for part in _concurrently(jobs):
        out.update(part)
    return out
