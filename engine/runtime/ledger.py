"""The ledger: which source record became which target record, kept in the state store."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from engine.runtime.ports import LedgerEntry
from engine.store import Store
from engine.store.tables import errors, outbox
from engine.store.tables import ledger as ledger_table

__all__ = ["CACHE_SIZE", "StoreLedger"]

CACHE_SIZE = 2048  # entries kept in memory (~16 KB each for a 10-line invoice): two planning chunks of 1000
PREFETCH_CHUNK = 500  # keys per query (under SQLite's bound-parameter limit)


def _by_flow(rows: Iterable[Any]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for flow, key in rows:
        found.setdefault(flow, set()).add(key)
    return {flow: frozenset(keys) for flow, keys in found.items()}


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(flow=row.flow, source_key=row.source_key, target_entity=row.target_entity,
                       target_id=row.target_id, sync_token=row.sync_token, payload_hash=row.payload_hash,
                       fields=row.fields or {}, state=row.state, origin=row.origin)


class StoreLedger:
    """One profile's ledger; also the ``engine.context.Ledger`` the evaluator reads refs from.

    Reads go through a bounded LRU cache filled by :meth:`prefetch` (or one query per miss), so a
    100k-record flow plans in the memory of a few thousand entries."""

    def __init__(self, store: Store, profile: str, *, cache_size: int = CACHE_SIZE) -> None:
        self.store = store
        self.profile = profile
        self.cache_size = cache_size
        # Least recently used last; None caches "no entry" too, so a record never synced costs one lookup.
        self._cache: OrderedDict[tuple[str, str], LedgerEntry | None] = OrderedDict()

    def get(self, flow: str, key: str) -> LedgerEntry | None:
        cache_key = (flow, key)
        try:
            entry = self._cache[cache_key]
        except KeyError:
            t = ledger_table
            with self.store.engine.connect() as conn:
                row = conn.execute(sa.select(t).where(t.c.profile == self.profile, t.c.flow == flow,
                                                      t.c.source_key == key)).first()
            entry = _entry(row) if row else None
            self._remember(cache_key, entry)
            return entry
        self._cache.move_to_end(cache_key)
        return entry

    def _remember(self, cache_key: tuple[str, str], entry: LedgerEntry | None) -> None:
        self._cache[cache_key] = entry
        self._cache.move_to_end(cache_key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def prefetch(self, flow: str, keys: Iterable[str]) -> None:
        """Read the entries of many keys at once (one query per chunk instead of one per record).

        The planner calls this for each chunk of source records it is about to plan, so memory holds
        about a chunk's entries whatever the ledger's size (the cache is bounded)."""
        wanted = list(dict.fromkeys(k for k in keys if (flow, k) not in self._cache))
        t = ledger_table
        with self.store.engine.connect() as conn:
            for start in range(0, len(wanted), PREFETCH_CHUNK):
                chunk = wanted[start:start + PREFETCH_CHUNK]
                found = {row.source_key: _entry(row) for row in conn.execute(sa.select(t).where(
                    t.c.profile == self.profile, t.c.flow == flow, t.c.source_key.in_(chunk)))}
                for key in chunk:
                    self._remember((flow, key), found.get(key))

    def open_errors(self) -> dict[str, frozenset[str]]:
        """Flow -> keys of the profile's records with an open error (the planner retries them)."""
        t = errors
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.flow, t.c.source_key).where(
                t.c.profile == self.profile, t.c.status == "open").distinct()).all()
        return _by_flow(rows)

    def failed_attachments(self) -> dict[str, frozenset[str]]:
        """Flow -> keys of records with an attachment whose last upload failed (sent again by the next run)."""
        t = outbox
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.flow, t.c.source_key).where(
                t.c.profile == self.profile, t.c.action == "attach", t.c.status == "failed").distinct()).all()
        return _by_flow(rows)

    def entries(self, flow: str) -> Iterator[LedgerEntry]:
        t = ledger_table
        with self.store.engine.connect() as conn:
            for row in conn.execute(sa.select(t).where(t.c.profile == self.profile, t.c.flow == flow)):
                yield _entry(row)

    def target_id(self, flow: str, key: str) -> str | None:
        entry = self.get(flow, key)
        return entry.target_id if entry else None

    def target_field(self, flow: str, key: str, field: str) -> Any:
        entry = self.get(flow, key)
        return entry.fields.get(field) if entry else None

    def record(self, entry: LedgerEntry, conn: sa.Connection, last_updated: str | None = None) -> None:
        """Insert or replace an entry inside the caller's transaction."""
        t = ledger_table
        values = {"target_entity": entry.target_entity, "target_id": entry.target_id, "sync_token": entry.sync_token,
                  "payload_hash": entry.payload_hash, "fields": dict(entry.fields), "state": entry.state,
                  "origin": entry.origin, "last_updated": last_updated, "updated_at": dt.datetime.now(dt.UTC)}
        where = (t.c.profile == self.profile) & (t.c.flow == entry.flow) & (t.c.source_key == entry.source_key)
        if conn.execute(sa.update(t).where(where).values(**values)).rowcount == 0:
            conn.execute(sa.insert(t).values(profile=self.profile, flow=entry.flow, source_key=entry.source_key,
                                             **values))
        self._remember((entry.flow, entry.source_key), entry)

    def record_many(self, entries: Sequence[tuple[LedgerEntry, str | None]], conn: sa.Connection) -> None:
        """Insert or replace many entries (each with its target's LastUpdatedTime) inside the caller's
        transaction: per flow, one read of the keys held already, one multi-row insert, one executemany
        update — a batch of writes costs the same few statements whatever its size."""
        t = ledger_table
        now = dt.datetime.now(dt.UTC)
        latest = {(e.flow, e.source_key): (e, updated) for e, updated in entries}  # the last one of a key wins
        for flow in dict.fromkeys(f for f, _ in latest):
            group = [item for (f, _), item in latest.items() if f == flow]
            keys = [e.source_key for e, _ in group]
            held: set[str] = set()
            for start in range(0, len(keys), PREFETCH_CHUNK):
                held.update(r[0] for r in conn.execute(sa.select(t.c.source_key).where(
                    t.c.profile == self.profile, t.c.flow == flow, t.c.source_key.in_(keys[start:start + PREFETCH_CHUNK]))))
            inserts, updates = [], []
            for entry, updated in group:
                values = {"target_entity": entry.target_entity, "target_id": entry.target_id,
                          "sync_token": entry.sync_token, "payload_hash": entry.payload_hash,
                          "fields": dict(entry.fields), "state": entry.state, "origin": entry.origin,
                          "last_updated": updated, "updated_at": now}
                if entry.source_key in held:
                    updates.append({**{f"v_{k}": v for k, v in values.items()}, "b_key": entry.source_key})
                else:
                    inserts.append({"profile": self.profile, "flow": flow, "source_key": entry.source_key, **values})
                self._remember((flow, entry.source_key), entry)
            if inserts:
                conn.execute(sa.insert(t), inserts)
            if updates:
                columns = ("target_entity", "target_id", "sync_token", "payload_hash", "fields", "state", "origin",
                           "last_updated", "updated_at")
                conn.execute(sa.update(t).where(t.c.profile == self.profile, t.c.flow == flow,
                                                t.c.source_key == sa.bindparam("b_key"))
                             .values({c: sa.bindparam(f"v_{c}") for c in columns}), updates)
