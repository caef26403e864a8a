"""The ledger: which source record became which target record, kept in the state store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from engine.runtime.ports import LedgerEntry
from engine.store import Store
from engine.store.tables import ledger as ledger_table

__all__ = ["StoreLedger"]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(flow=row.flow, source_key=row.source_key, target_entity=row.target_entity,
                       target_id=row.target_id, sync_token=row.sync_token, payload_hash=row.payload_hash,
                       fields=row.fields or {}, state=row.state, origin=row.origin)


class StoreLedger:
    """One profile's ledger; also the ``engine.context.Ledger`` the evaluator reads refs from."""

    def __init__(self, store: Store, profile: str) -> None:
        self.store = store
        self.profile = profile
        self._cache: dict[tuple[str, str], LedgerEntry | None] = {}

    def get(self, flow: str, key: str) -> LedgerEntry | None:
        cache_key = (flow, key)
        if cache_key not in self._cache:
            t = ledger_table
            with self.store.engine.connect() as conn:
                row = conn.execute(sa.select(t).where(t.c.profile == self.profile, t.c.flow == flow,
                                                      t.c.source_key == key)).first()
            self._cache[cache_key] = _entry(row) if row else None
        return self._cache[cache_key]

    def preload(self, flow: str) -> None:
        """Read a flow's whole ledger at once (one query instead of one per record)."""
        t = ledger_table
        with self.store.engine.connect() as conn:
            for row in conn.execute(sa.select(t).where(t.c.profile == self.profile, t.c.flow == flow)):
                self._cache[(flow, row.source_key)] = _entry(row)

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
        self._cache[(entry.flow, entry.source_key)] = entry
