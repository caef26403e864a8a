"""Apply: carry out a plan through the outbox, so a crash at any moment loses nothing and a rerun
duplicates nothing.

Every write is first recorded in the outbox with its deterministic requestid; only then is it sent.
The answer, the ledger entry and the error history are written in one transaction. A rerun after a
crash plans the same writes with the same requestids, which the target replays instead of
executing twice (and the connector finds documents after an uncertain outcome before any retry).
Referenced records to create go first; placeholders in later payloads are replaced by their ids.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.errors import PasserelleError, RuleError
from engine.runtime.canonical import payload_hash, request_id, to_plain, with_numbers
from engine.runtime.history import finish_run, progress_run, record_error, resolve_errors, start_run
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Change, Plan, payload_digest
from engine.runtime.ports import Attacher, Fetcher, LedgerEntry, Target, TargetWrite, WriteOutcome, Writer
from engine.store import Store
from engine.store.tables import outbox, runs

__all__ = ["ApplyReport", "Progress", "apply_plan", "check_fresh"]

BATCH_SIZE = 30
# Batches of creates in flight at once: QBO allows 10 requests at a time and 40 batch calls a minute;
# with 150-300 ms per call, one batch at a time spends most of each window waiting on the network.
CONCURRENT_BATCHES = 4
WRITES = ("create", "adopt", "update", "void", "delete")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ApplyReport:
    run_id: int
    counts: Mapping[str, int]
    failures: tuple[tuple[str, str, str], ...] = ()  # (flow, key, message)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class _State:
    ids: dict[str, str] = field(default_factory=dict)           # placeholder -> real id
    failed: dict[str, str] = field(default_factory=dict)        # placeholder -> why it is missing
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    done: int = 0


def _substitute(value: Any, state: _State) -> Any:
    if isinstance(value, str) and value.startswith("$") and value in state.ids:
        return state.ids[value]
    if isinstance(value, str) and value.startswith("$") and value in state.failed:
        raise LookupError(state.failed[value])
    if isinstance(value, Mapping):
        return {k: _substitute(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, state) for v in value]
    return value


def check_fresh(plan: Plan, target: Target, store: Store) -> None:
    """Refuse a saved plan whose target moved since it was computed (reference data or SyncTokens)."""
    problems = []
    applied = _applied_by(store, plan)
    if applied is not None:
        problems.append(f"it was applied already (run {applied}); a saved plan is applied once")
    is_current = getattr(target, "is_current", None)  # a target may check its fingerprint more cheaply
    if not (is_current(plan.fingerprint) if is_current is not None else target.fingerprint() == plan.fingerprint):
        problems.append("the QBO company's reference data (accounts, items, customers, tax codes ...) changed")
    done = _done_requests(store, plan.key)
    for change in plan.changes:
        if change.action not in ("update", "void", "delete", "adopt") or change.request_id in done:
            continue
        live = target.get(change.entity, change.target_id or "")
        token = str(live.get("SyncToken")) if live else None
        if token != change.sync_token:
            problems.append(f"{change.entity} {change.target_id} changed (SyncToken {change.sync_token} -> {token})")
    if problems:
        raise PasserelleError([RuleError("E802", "the saved plan is stale: " + "; ".join(problems[:5])
                                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                                         hint="run `passerelle plan` again and review the new plan")])


def _applied_by(store: Store, plan: Plan) -> int | None:
    """The finished run that carried out this plan's writes already, if one did. A run that was interrupted
    (or is still marked running after a crash) does not count: applying the plan again resumes it."""
    wanted = [c.request_id for c in plan.changes if c.action in WRITES and c.request_id]
    if not wanted:
        return None
    query = (sa.select(runs.c.id).select_from(outbox.join(runs, outbox.c.run_id == runs.c.id))
             .where(outbox.c.profile == plan.key, outbox.c.status == "done",
                    runs.c.status.in_(("done", "done_with_errors")))
             .order_by(runs.c.id.desc()).limit(1))
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            found = conn.execute(query.where(outbox.c.request_id.in_(wanted[start:start + 500]))).scalar()
            if found is not None:
                return int(found)
    return None


def _done_requests(store: Store, profile: str) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.request_id).where(outbox.c.profile == profile,
                                                                 outbox.c.status == "done"))
        return {r[0] for r in rows}


class _Applier:
    def __init__(self, plan: Plan, writer: Writer, store: Store, ledger: StoreLedger, *, progress: Progress | None,
                 writers: Mapping[str, Writer] | None = None, attacher: Attacher | None = None,
                 fetcher: Fetcher | None = None) -> None:
        self.plan, self.writer, self.store, self.ledger = plan, writer, store, ledger
        self.writers = dict(writers or {})
        self.attacher, self.fetcher = attacher, fetcher
        self.progress = progress
        self.state = _State()
        self.pool = ThreadPoolExecutor(max_workers=CONCURRENT_BATCHES, thread_name_prefix="apply-batch")
        self.inflight: deque[tuple[list[tuple[Change, TargetWrite]], Future[list[WriteOutcome]]]] = deque()
        self.batch_flow = ""
        self.profile = plan.key  # the store key (pack/profile)
        self.total = sum(1 for c in plan.changes if c.action in WRITES) + len(self._creates())
        self.run_id = start_run(store, self.profile, "apply", self.total)

    def _creates(self) -> list[Mapping[str, Any]]:
        seen: dict[str, Mapping[str, Any]] = {}
        for change in self.plan.changes:
            if change.action in WRITES:
                for create in change.creates:
                    seen.setdefault(create["placeholder"], create)
        return list(seen.values())

    def tick(self, label: str) -> None:
        self.state.done += 1
        if self.progress is not None:
            self.progress(self.state.done, self.total, label)

    # -- the outbox --------------------------------------------------------------------------------
    def _interrupted(self, flow: str, key: str, operation: str) -> str | None:
        """The requestid of this record's write that was sent but never settled (a crash, a kill -9).

        Resending under the same requestid makes the target replay the first answer instead of writing
        again, even though the payload may now carry real ids where it carried placeholders then."""
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(outbox.c.request_id).where(
                outbox.c.profile == self.profile, outbox.c.flow == flow, outbox.c.source_key == key,
                outbox.c.action == operation, outbox.c.status.in_(("planned", "sent")))
                .order_by(outbox.c.id.desc())).first()
        return str(row[0]) if row else None

    def _enqueue(self, write: TargetWrite) -> Mapping[str, Any] | None:
        """Record the write before sending it; returns the stored answer when it was already done.

        Another run (the serve worker, a concurrent sync) may record the same requestid between our read
        and our insert: the unique key refuses the second insert, and the row is then taken over like an
        unsettled one — resent under the same requestid, which the target replays instead of repeating."""
        try:
            return self._record_sent(write)
        except sa.exc.IntegrityError:
            return self._record_sent(write)

    def _record_sent(self, write: TargetWrite) -> Mapping[str, Any] | None:
        now = dt.datetime.now(dt.UTC)
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.profile == self.profile,
                                                       outbox.c.request_id == write.request_id)).first()
            if row is not None and row.status == "done":
                return dict(row.response or {})
            values = {"run_id": self.run_id, "flow": write.flow, "source_key": write.source_key,
                      "action": write.operation, "entity": write.entity, "payload": to_plain(write.payload),
                      "status": "sent", "updated_at": now}
            if row is None:
                conn.execute(sa.insert(outbox).values(profile=self.profile, request_id=write.request_id,
                                                      created_at=now, **values))
            else:
                conn.execute(sa.update(outbox).where(outbox.c.id == row.id).values(**values))
        return None

    def _settle(self, outcome: WriteOutcome, entry: LedgerEntry | None) -> None:
        write = outcome.write
        with self.store.engine.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.profile == self.profile,
                                                 outbox.c.request_id == write.request_id).values(
                status="done" if outcome.ok else "failed", response=to_plain(outcome.record or {}),
                updated_at=dt.datetime.now(dt.UTC)))
            if outcome.ok:
                if entry is not None:
                    meta = (outcome.record or {}).get("MetaData") or {}
                    self.ledger.record(entry, conn, last_updated=meta.get("LastUpdatedTime"))
                resolve_errors(conn, self.profile, write.flow, write.source_key)
            else:
                record_error(conn, self.profile, write.flow, write.source_key, run_id=self.run_id,
                             fault_class=outcome.fault_class or "transient", code=outcome.code,
                             message=outcome.message or "write failed", hint=outcome.hint)
            progress_run(conn, self.run_id, self.state.done)

    def _fail_before_send(self, change: Change, message: str) -> None:
        with self.store.engine.begin() as conn:
            record_error(conn, self.profile, change.flow, change.key, run_id=self.run_id, fault_class="data",
                         code=None, message=message, hint=None)
        self.state.failures.append((change.flow, change.key, message))
        self.state.counts["failed"] += 1
        self.tick(f"{change.entity} {change.label}")

    # -- steps -------------------------------------------------------------------------------------
    def create_references(self) -> None:
        """Referenced records (customers, items ...) first, in batches, up to CONCURRENT_BATCHES in flight:
        they do not depend on each other, and every later write may need their ids."""
        todo: list[tuple[Mapping[str, Any], TargetWrite]] = []
        for create in self._creates():
            fields = to_plain(create["fields"])
            write = TargetWrite(entity=create["entity"], operation="create", payload=fields,
                                request_id=request_id(self.profile, "ref", f"{create['entity']}:{create['by']}="
                                                      f"{create['value']}", "create", payload_hash(fields)),
                                flow=f"ref:{create['entity']}", source_key=str(create["value"]),
                                match={create["by"]: create["value"]})
            previous = self._enqueue(write)
            if previous is not None:
                self._reference_done(create, WriteOutcome(write, True, record=previous))
            else:
                todo.append((create, write))
        batches = [todo[start:start + BATCH_SIZE] for start in range(0, len(todo), BATCH_SIZE)]
        sent = self.pool.map(lambda batch: _send_batch(self.writer, [w for _, w in batch]), batches)
        for batch, outcomes in zip(batches, sent, strict=True):
            for (create, _), outcome in zip(batch, outcomes, strict=True):
                self._reference_done(create, outcome)

    def _reference_done(self, create: Mapping[str, Any], outcome: WriteOutcome) -> None:
        write = outcome.write
        if outcome.ok and outcome.record is not None:
            self.state.ids[create["placeholder"]] = str(outcome.record.get("Id"))
            remember = getattr(self.writer, "remember", None)
            if remember is not None:
                remember(create["entity"], outcome.record)
            self.state.counts["created_references"] += 1
        else:
            why = f"{create['entity']} {create['by']}={create['value']!r} could not be created: {outcome.message}"
            self.state.failed[create["placeholder"]] = why
            self.state.failures.append((write.flow, write.source_key, why))
        self._settle(outcome, None)
        self.tick(f"{create['entity']} {create['value']}")

    def writer_for(self, connection: str) -> Writer:
        """Product write-backs go to their connection's writer; everything else to the QBO writer."""
        return self.writers.get(connection, self.writer)

    def _send(self, write: TargetWrite, connection: str = "") -> WriteOutcome:
        previous = self._enqueue(write)
        if previous is not None:
            return WriteOutcome(write, True, record=previous)
        return self.writer_for(connection).write(write)

    def _prepare(self, change: Change) -> TargetWrite | None:
        try:
            payload = with_numbers(_substitute(change.payload or {}, self.state), change.numbers)
            match = _substitute(dict(change.match or {}), self.state) or None
        except LookupError as missing:
            self._fail_before_send(change, f"not sent: {missing}")
            return None
        operation = "update" if change.action == "adopt" else change.action
        planned = change.request_id or request_id(self.profile, change.flow, change.key, change.action, "")
        return TargetWrite(entity=change.entity, operation=operation, payload=payload,
                           request_id=self._interrupted(change.flow, change.key, operation) or planned,
                           flow=change.flow, source_key=change.key, target_id=change.target_id,
                           sync_token=change.sync_token, owned_fields=change.owned_fields, match=match)

    def _entry(self, change: Change, write: TargetWrite, record: Mapping[str, Any] | None) -> LedgerEntry:
        record = record or {}
        state = {"void": "voided", "delete": "deleted"}.get(change.action)
        fields = to_plain(write.payload) if write.payload else dict((self.ledger.get(change.flow, change.key) or
                                                                _blank(change)).fields)
        return LedgerEntry(flow=change.flow, source_key=change.key, target_entity=change.entity,
                           target_id=str(record.get("Id") or change.target_id or ""), sync_token=_token(record, change),
                           payload_hash=state or self._sent_hash(change, write), fields=fields, state=state)

    def _sent_hash(self, change: Change, write: TargetWrite) -> str | None:
        """The hash of what was sent: the plan's, unless placeholders became ids on the way. The next plan
        hashes the payload with those ids, so the record is unchanged without a read of QBO."""
        if change.payload_hash is None or change.payload is None or write.payload == change.payload:
            return change.payload_hash
        attachments = change.attachments if change.connection not in self.writers else ()
        return payload_digest(to_plain(write.payload), change.entity, tuple(attachments))

    def record_plan_errors(self) -> None:
        """Records the plan could not map (a missing account, a table gap ...) and conflicts join the error
        history too."""
        with self.store.engine.begin() as conn:
            for change in self.plan.changes:
                if change.action == "error":
                    where = (change.error or {}).get("where")
                    record_error(conn, self.profile, change.flow, change.key, run_id=self.run_id, fault_class="data",
                                 code=(change.error or {}).get("code"), message=change.reason or "cannot be mapped",
                                 hint=f"fix the data or the rule at {where}" if where else None)
                    self.state.failures.append((change.flow, change.key, change.reason or "cannot be mapped"))
                    self.state.counts["not_mapped"] += 1
                elif change.action == "resolve":  # retried and fine now: the cause was fixed elsewhere
                    self.state.counts["resolved"] += resolve_errors(conn, self.profile, change.flow, change.key)
                elif change.action == "conflict":  # not written: it waits for a person's decision
                    record_error(conn, self.profile, change.flow, change.key, run_id=self.run_id,
                                 fault_class="conflict", code=None,
                                 message=f"conflict on {change.entity} {change.target_id}: {change.reason}",
                                 hint="keep QBO's version (`passerelle errors resolve ID`), or undo the edit "
                                      "in QBO and sync again")
                    self.state.counts["conflict"] += 1

    def changes(self) -> None:
        """Creates of one flow go in batches, up to CONCURRENT_BATCHES in flight; anything else one by one.

        A create that refers to another record of its own flow, a change of flow or any other action
        first settles everything in flight, so later changes see the ids they depend on."""
        pending: list[tuple[Change, TargetWrite]] = []
        for change in self.plan.changes:
            if change.action == "attach":  # the document is written; only its files failed last time
                self._submit(pending)
                self._drain(0)
                if self._attach(change, change.target_id or ""):
                    with self.store.engine.begin() as conn:
                        resolve_errors(conn, self.profile, change.flow, change.key)
                continue
            if change.action not in WRITES:
                continue
            if (pending or self.inflight) and (change.flow != self.batch_flow or change.action != "create"
                                               or _mentions(change.payload, f"$flow:{change.flow}:")):
                self._submit(pending)
                self._drain(0)  # later changes may refer to what the batches create
            write = self._prepare(change)
            if write is None:
                continue
            if change.action == "create":
                self.batch_flow = change.flow
                pending.append((change, write))
                if len(pending) == BATCH_SIZE:
                    self._submit(pending)
                continue
            self._submit(pending)
            self._drain(0)
            self._one(change, write)
        self._submit(pending)
        self._drain(0)

    def _one(self, change: Change, write: TargetWrite) -> None:
        outcome = self._send(write, change.connection)
        self._conclude(change, write, outcome)

    def _submit(self, pending: list[tuple[Change, TargetWrite]]) -> None:
        """Record a batch's writes in the outbox, then send it: in the background to the main target (its
        client keeps under the rate limits), at once to any other writer. Settling stays in plan order."""
        todo: list[tuple[Change, TargetWrite]] = []
        for change, write in pending:
            previous = self._enqueue(write)
            if previous is not None:
                self._conclude(change, write, WriteOutcome(write, True, record=previous))
            else:
                todo.append((change, write))
        pending.clear()
        if not todo:
            return
        writer = self.writer_for(todo[0][0].connection)
        writes = [w for _, w in todo]
        if writer is self.writer:
            self._drain(CONCURRENT_BATCHES - 1)
            self.inflight.append((todo, self.pool.submit(_send_batch, writer, writes)))
        else:
            self._drain(0)
            self._settle_batch(todo, _send_batch(writer, writes))

    def _drain(self, keep: int) -> None:
        """Settle the oldest batches in flight until at most ``keep`` remain."""
        while len(self.inflight) > keep:
            todo, future = self.inflight.popleft()
            self._settle_batch(todo, future.result())

    def _settle_batch(self, todo: list[tuple[Change, TargetWrite]], outcomes: list[WriteOutcome]) -> None:
        for (change, write), outcome in zip(todo, outcomes, strict=True):
            self._conclude(change, write, outcome)

    def _conclude(self, change: Change, write: TargetWrite, outcome: WriteOutcome) -> None:
        if outcome.ok:
            record = outcome.record or {}
            if change.action == "create" and record.get("Id") is not None:
                self.state.ids[f"$flow:{change.flow}:{change.key}"] = str(record["Id"])
            self.state.counts[change.action] += 1
        else:
            self.state.counts["failed"] += 1
            self.state.failures.append((change.flow, change.key, outcome.message or "write failed"))
            if change.action == "create":
                self.state.failed[f"$flow:{change.flow}:{change.key}"] = (
                    f"{change.flow} {change.key} was not written: {outcome.message}")
        self.tick(f"{change.entity} {change.label}")
        self._settle(outcome, self._entry(change, write, outcome.record) if outcome.ok else None)
        if outcome.ok and change.attachments:
            self._attach(change, str((outcome.record or {}).get("Id") or change.target_id or ""))

    def _attach(self, change: Change, target_id: str) -> bool:
        """Upload and link each file once: the outbox remembers attachments already made. True when none
        failed."""
        ok = True
        for attachment in change.attachments:
            rid = request_id(self.profile, change.flow, change.key, "attach", f"{target_id}|{attachment['url']}")
            write = TargetWrite(entity=change.entity, operation="attach", payload=dict(attachment), request_id=rid,
                                flow=change.flow, source_key=change.key, target_id=target_id)
            if self._enqueue(write) is not None:
                continue
            if self.attacher is None or self.fetcher is None:
                outcome = WriteOutcome(write, False, fault_class="config",
                                       message="this target cannot receive attachments")
            else:
                try:
                    content = self.fetcher.fetch(str(attachment["url"]))
                except PasserelleError as exc:
                    outcome = WriteOutcome(write, False, fault_class="data", code=exc.errors[0].code,
                                           message=f"cannot read {attachment['url']}: {exc.errors[0].message}",
                                           resync_may_fix=True)
                else:
                    outcome = self.attacher.attach(write, content)
            if outcome.ok:
                self.state.counts["attached"] += 1
            else:
                ok = False
                self.state.failures.append((change.flow, change.key, outcome.message or "attachment failed"))
            self._settle(outcome, None)
        return ok


def _send_batch(writer: Writer, writes: list[TargetWrite]) -> list[WriteOutcome]:
    return writer.write_many(writes) if len(writes) > 1 else [writer.write(writes[0])]


def _mentions(value: Any, prefix: str) -> bool:
    """Whether a payload holds a placeholder starting with ``prefix`` (a record of the same flow)."""
    if isinstance(value, str):
        return value.startswith(prefix)
    if isinstance(value, Mapping):
        return any(_mentions(v, prefix) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_mentions(v, prefix) for v in value)
    return False


def _blank(change: Change) -> LedgerEntry:
    return LedgerEntry(change.flow, change.key, change.entity, change.target_id, change.sync_token, None)


def _token(record: Mapping[str, Any], change: Change) -> str | None:
    token = record.get("SyncToken")
    return str(token) if token is not None else change.sync_token


def apply_plan(plan: Plan, writer: Writer, store: Store, *, progress: Progress | None = None,
               writers: Mapping[str, Writer] | None = None, attacher: Attacher | None = None,
               fetcher: Fetcher | None = None) -> ApplyReport:
    """Carry out a plan; returns counts and the records that failed (also in the error history).

    ``writer`` takes the QBO writes; ``writers`` maps product connection names to their writers."""
    ledger = StoreLedger(store, plan.key)
    applier = _Applier(plan, writer, store, ledger, progress=progress, writers=writers, attacher=attacher,
                       fetcher=fetcher)
    status = "failed"
    try:
        applier.record_plan_errors()
        applier.create_references()
        applier.changes()
        status = "done" if not applier.state.failures else "done_with_errors"
    finally:
        applier.pool.shutdown(wait=True)  # a batch in flight when an error stops the run still ends first
        finish_run(store, applier.run_id, status if status != "failed" else "interrupted", applier.state.counts)
    return ApplyReport(applier.run_id, dict(applier.state.counts), tuple(applier.state.failures))


