"""What one event does to one profile: a one-record plan and apply of the flows it concerns.

QBO events carry ids only, and may arrive late or out of order: the entity is read again, so every
event acts on QBO's current state and a stale one cannot undo a newer change. A change whose
LastUpdatedTime or SyncToken equals what the ledger recorded after our own write is our own echo and is
dropped (no ping-pong).

The record read again carries what QBO said happened, as ``record.QboEvent`` (``entity``, ``operation``:
Create, Update, Delete, Void, Emailed …, ``id``, ``at``): flows decide from the event, not from field
changes. A transaction read because a linked one changed (an invoice a payment pays) carries that
linked record's event. Records read by a plain sync have no ``QboEvent``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from connectors.qbo_target import tombstone
from engine.cli.session import Session
from engine.runtime.apply import ApplyReport, Progress, apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.suspension import suspended_until
from engine.serve.events import ProductEvent, QboEvent
from engine.store.tables import ledger as ledger_table

__all__ = ["Outcome", "handle_product", "handle_qbo", "is_own_write", "sync_one"]

log = logging.getLogger("passerelle.serve")


@dataclass(frozen=True)
class Outcome:
    """What processing an event did: ``ignored`` says why nothing ran."""

    runs: tuple[int, ...] = ()
    flows: tuple[str, ...] = ()
    machine_moves: tuple[str, ...] = ()
    ignored: str | None = None


EVENT_FIELD = "QboEvent"


def event_fields(event: QboEvent) -> dict[str, str]:
    """What a flow sees of a QBO event (``record.QboEvent``)."""
    return {"entity": event.entity, "operation": event.operation, "id": event.entity_id, "at": event.last_updated}


class OneRecord:
    """A QBO source that yields only the record just read again (not every record of the entity), with the
    event that made it be read."""

    def __init__(self, entity: str, record: Mapping[str, Any], event: QboEvent | None = None) -> None:
        self.entity, self.record = entity, record
        self.event = event

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        if resource == self.entity:
            yield {**self.record, EVENT_FIELD: event_fields(self.event)} if self.event is not None else self.record


class GoneRecord:
    """A QBO source whose one record was deleted: it yields no record, and says that one is gone (the flows'
    `gone` rules then apply to it)."""

    def __init__(self, entity: str, entity_id: str, last_updated: str = "") -> None:
        self.entity, self.entity_id, self.last_updated = entity, entity_id, last_updated

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        yield from ()

    def gone(self, resource: str, ids: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if resource == self.entity and self.entity_id in ids:
            yield self.entity_id, tombstone(self.entity_id, self.last_updated)


def is_own_write(session: Session, entity: str, record: Mapping[str, Any]) -> bool:
    """True when the ledger recorded exactly this version of the record after one of our writes."""
    meta = record.get("MetaData") or {}
    stamp, token = meta.get("LastUpdatedTime"), record.get("SyncToken")
    t = ledger_table
    with session.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.last_updated, t.c.sync_token).where(
            t.c.profile == session.key, t.c.target_entity == entity, t.c.target_id == str(record.get("Id")))).all()
    return any(_same_version(row.sync_token, row.last_updated, token, stamp) for row in rows)


def _same_version(ledger_token: str | None, ledger_stamp: str | None, token: Any, stamp: Any) -> bool:
    """SyncToken moves on every change, so it decides when both sides have one; else LastUpdatedTime."""
    if token is not None and ledger_token is not None:
        return str(token) == ledger_token
    return bool(stamp) and stamp == ledger_stamp


def sync_one(session: Session, flows: set[str], key: str, sources: Mapping[str, Any] | None = None,
             progress: Progress | None = None) -> ApplyReport | None:
    """Plan and apply ``flows`` for the one source record ``key``; None when the plan has nothing to write."""
    loaded = session.loaded
    chosen = {name: flow for name, flow in loaded.compiled.flows.items() if name in flows}
    if not chosen:
        return None
    narrowed = replace(loaded, compiled=replace(loaded.compiled, flows=chosen))
    today = dt.date.today().isoformat()
    options = PlanOptions(today=today, suspended_until=suspended_until(session.store, session.key, today), record=key)
    plan = make_plan(narrowed, session.target, {**session.sources, **(sources or {})},
                     StoreLedger(session.store, session.key), options)
    if not plan.has_changes and not any(c.action in ("error", "conflict") for c in plan.changes):
        return None
    return apply_plan(plan, session.target, session.store, progress=progress, writers=session.writers,
                      attacher=session.target, fetcher=session.fetcher)


def _machine_flows(session: Session, trigger: str) -> tuple[set[str], list[str]]:
    """Flows the machines run on ``trigger`` (the trigger's ``run`` and the destination states' ``run``)."""
    flows: set[str] = set()
    moves: list[str] = []
    for machine in session.loaded.compiled.machines.values():
        for compiled in machine.for_event(trigger):
            flows.update(compiled.trigger.run)
            dests: set[str] = set()
            if compiled.goto_state:
                dests.add(compiled.goto_state)
            if compiled.trigger.fire:
                dests.update(t.dest for t in machine.machine.transitions if t.trigger == compiled.trigger.fire)
            for dest in sorted(dests):
                moves.append(f"{machine.name}: {trigger} -> {dest}")
                state = machine.machine.states.get(dest)
                flows.update(state.run if state else ())
    return flows, moves


def _flows_reading(session: Session, entity: str) -> set[str]:
    """Flows whose source is this QBO entity."""
    qbo = set(_qbo_connections(session))
    return {name for name, flow in session.loaded.compiled.flows.items()
            if flow.flow.source.connection in qbo and flow.flow.source.entity == entity}


def _qbo_connections(session: Session) -> list[str]:
    return [name for name, conn in session.loaded.resolved.connections.items() if conn.connector == "qbo"]


def _read(session: Session, entity: str, entity_id: str) -> Mapping[str, Any] | None:
    try:
        return session.target.client.get(entity, entity_id)
    except Exception as exc:  # gone (deleted) or unreadable: nothing current to act on
        log.info("cannot read %s %s again: %s", entity, entity_id, exc)
        return None


def _linked(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Transactions a payment (or any record with linked lines) touches: their flows see the change too."""
    out = []
    for line in record.get("Line") or []:
        for link in (line.get("LinkedTxn") or []) if isinstance(line, Mapping) else []:
            if link.get("TxnType") and link.get("TxnId") is not None:
                out.append((str(link["TxnType"]), str(link["TxnId"])))
    return out


def _run_qbo_record(session: Session, entity: str, record: Mapping[str, Any], extra: set[str],
                    progress: Progress | None, *, event: QboEvent | None = None) -> list[int]:
    flows = _flows_reading(session, entity) | {
        f for f in extra if session.loaded.compiled.flows.get(f) and
        session.loaded.compiled.flows[f].flow.source.entity == entity}
    sources = {name: OneRecord(entity, record, event) for name in _qbo_connections(session)}
    report = sync_one(session, flows, str(record.get("Id")), sources, progress)
    return [report.run_id] if report is not None else []


def _run_deleted(session: Session, event: QboEvent, progress: Progress | None) -> Outcome:
    """A record QBO says was deleted (webhook or change data capture): the flows reading its entity plan it
    as gone, so their `gone` rules reach the other side."""
    flows = _flows_reading(session, event.entity)
    sources = {name: GoneRecord(event.entity, event.entity_id, event.last_updated) for name in _qbo_connections(session)}
    report = sync_one(session, flows, event.entity_id, sources, progress)
    return Outcome(runs=(report.run_id,) if report is not None else (), flows=tuple(sorted(flows)))


def handle_qbo(session: Session, event: QboEvent, progress: Progress | None = None) -> Outcome:
    """Read the entity again; drop our own echo; run the flows reading it (and its linked transactions)."""
    record = _read(session, event.entity, event.entity_id)
    if record is None and event.operation == "Delete":
        return _run_deleted(session, event, progress)
    if record is None:
        return Outcome(ignored=f"{event.entity} {event.entity_id} cannot be read (deleted?)")
    if is_own_write(session, event.entity, record):
        return Outcome(ignored=f"{event.entity} {event.entity_id}: our own write")
    extra, moves = _machine_flows(session, event.trigger)
    runs = _run_qbo_record(session, event.entity, record, extra, progress, event=event)
    for txn_type, txn_id in _linked(record):
        linked = _read(session, txn_type, txn_id)
        if linked is not None and not is_own_write(session, txn_type, linked):
            runs += _run_qbo_record(session, txn_type, linked, extra, progress, event=event)
    return Outcome(runs=tuple(runs), flows=tuple(sorted(extra)), machine_moves=tuple(moves))


def handle_product(session: Session, event: ProductEvent, progress: Progress | None = None) -> Outcome:
    """The machines' flows for this event (or every flow reading the connection), for the named record only.

    The record is read again through the connector, not taken from the event body."""
    flows, moves = _machine_flows(session, event.trigger)
    flows = {f for f in flows if f in session.loaded.compiled.flows} or {
        name for name, flow in session.loaded.compiled.flows.items() if flow.flow.source.connection == event.connection}
    report = sync_one(session, flows, event.record_id, progress=progress)
    return Outcome(runs=(report.run_id,) if report else (), flows=tuple(sorted(flows)), machine_moves=tuple(moves))
