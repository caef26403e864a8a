"""Deciding a conflict: a record whose owned fields were edited in QBO since our last write while the
product changed it too. The plan never overwrites such a record; a person decides, and this records it.

- **keep ours**: the ledger takes QBO's current SyncToken, so the next plan sees no hand edit since our
  write and sends the product's values (the one record is synced at once);
- **take QBO's**: the ledger takes QBO's current SyncToken and values, and the product's current version
  counts as written, so nothing is sent until the product changes the record again.

Either way the conflict's open errors are resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from engine.errors import PasserelleError, RuleError
from engine.runtime.history import ErrorRow, list_errors, resolve_errors
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan
from engine.store import Store

__all__ = ["CHOICES", "Decision", "decide_conflict"]

CHOICES = ("ours", "theirs")


class _Session(Protocol):
    store: Store

    @property
    def key(self) -> str: ...

    def plan(self, *, record: str | None = None, manual: bool = False) -> Plan: ...


@dataclass(frozen=True)
class Decision:
    error_id: int
    choice: str
    message: str
    write_needed: bool  # keep ours: the record's update is to be applied now


def _error(store: Store, profile: str, error_id: int) -> ErrorRow:
    row = next((r for r in list_errors(store, profile) if r.id == error_id), None)
    if row is None or row.fault_class != "conflict":
        raise PasserelleError([RuleError("E806", f"no conflict #{error_id} for {profile}", None,
                                         hint="see `passerelle errors list` (conflicts have the class conflict)")])
    return row


def decide_conflict(session: _Session, error_id: int, choice: str,
                    read: Callable[[str, str], Mapping[str, Any] | None]) -> Decision:
    """Record the decision on conflict ``error_id``; ``read(entity, id)`` reads the live QBO record."""
    if choice not in CHOICES:
        raise PasserelleError([RuleError("E806", f"unknown decision {choice!r}; one of {', '.join(CHOICES)}", None)])
    row = _error(session.store, session.key, error_id)
    plan = session.plan(record=row.source_key, manual=True)
    change = next((c for c in plan.changes if c.action == "conflict" and c.flow == row.flow
                   and c.key == row.source_key), None)
    ledger = StoreLedger(session.store, session.key)
    entry = ledger.get(row.flow, row.source_key)
    if change is None or entry is None or not change.target_id:
        with session.store.engine.begin() as conn:
            resolve_errors(conn, session.key, row.flow, row.source_key)
        return Decision(error_id, choice, "no conflict on this record any more: nothing to decide", False)
    live = read(change.entity, change.target_id)
    if live is None:
        raise PasserelleError([RuleError("E806", f"{change.entity} {change.target_id} cannot be read from QBO", None,
                                         hint="it may have been deleted: sync the record again to re-create it")])
    token = str(live.get("SyncToken"))
    if choice == "ours":
        decided = replace(entry, sync_token=token)
        message = f"keeping ours: {change.label} will be written over QBO's edit"
    else:
        fields = {name: live.get(name) for name in entry.fields}
        decided = replace(entry, sync_token=token, payload_hash=change.payload_hash or entry.payload_hash,
                          fields=fields)
        message = f"taking QBO's: {change.label} keeps QuickBooks' values until the product changes it again"
    with session.store.engine.begin() as conn:
        ledger.record(decided, conn, last_updated=(live.get("MetaData") or {}).get("LastUpdatedTime"))
        resolve_errors(conn, session.key, row.flow, row.source_key)
    return Decision(error_id, choice, message, choice == "ours")
