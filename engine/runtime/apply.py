"""Apply: carry out a plan through the outbox, so a crash at any moment loses nothing and a rerun
duplicates nothing.

Every write is first recorded in the outbox with its deterministic requestid; only then is it sent.
The answer, the ledger entry and the error history are written in one transaction. A rerun after a
crash plans the same writes with the same requestids, which the target replays instead of
executing twice (and the connector finds documents after an uncertain outcome before any retry).
Referenced records to create go first; placeholders in later payloads are replaced by their ids.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.errors import PasserelleError, RuleError
from engine.runtime import outbox as outbox_store
from engine.runtime.canonical import payload_hash, request_id, to_plain, with_numbers
from engine.runtime.history import (
    finish_run,
    progress_run,
    record_error,
    resolve_errors,
    resolve_errors_of,
    start_run,
)
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Change, PackedPayload, Plan, payload_digest
from engine.runtime.ports import Attacher, Fetcher, LedgerEntry, Target, TargetWrite, WriteOutcome, Writer
from engine.store import Store
from engine.store.tables import outbox, runs

__all__ = ["ApplyReport", "Progress", "apply_plan", "check_fresh"]

BATCH_SIZE = 30
# Batches of creates in flight at once: QBO allows 10 requests at a time and 40 batch calls a minute;
# with 150-300 ms per call, one batch at a time spends most of each window waiting on the network.
CONCURRENT_BATCHES = 4
# The state store's statistics are refreshed after this many settled writes, then 4x as many each time
# (Store.refresh_statistics: a first sync grows the outbox and ledger faster than autovacuum looks).
ANALYZE_FIRST = 500
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
    done = _done_requests(store, plan.key, [c.request_id for c in plan.changes
                                            if c.action in ("update", "void", "delete", "adopt") and c.request_id])
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


def _done_requests(store: Store, profile: str, wanted: list[str]) -> set[str]:
    """Which of these requestids are done already (read by chunks of the plan's, not the whole outbox)."""
    found: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            found.update(r[0] for r in conn.execute(sa.select(outbox.c.request_id).where(
                outbox.c.profile == profile, outbox.c.status == "done",
                outbox.c.request_id.in_(wanted[start:start + 500]))))
    return found


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
        self.settled, self.analyze_at = 0, ANALYZE_FIRST

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

    # -- the outbox, a batch at a time ---------------------------------------------------------------
    def _enqueue(self, writes: list[TargetWrite]) -> tuple[list[TargetWrite], dict[str, Mapping[str, Any]]]:
        """Record a batch of writes before sending them, in one transaction; returns the writes (under the
        requestid of an unsettled earlier attempt where there is one) and the stored answers of those done.

        Another run (the serve worker, a concurrent sync) may record the same requestid between our read
        and our insert: the unique key refuses the insert, and the batch is recorded again, taking that
        row over like an unsettled one — resent under the same requestid, which the target replays."""
        try:
            return self._record_sent(writes)
        except sa.exc.IntegrityError:
            return self._record_sent(writes)

    def _record_sent(self, writes: list[TargetWrite]) -> tuple[list[TargetWrite], dict[str, Mapping[str, Any]]]:
        with self.store.engine.begin() as conn:
            writes = outbox_store.unsettled(conn, self.profile, writes)
            return writes, outbox_store.record_sent(conn, self.profile, self.run_id, writes)

    def _settle(self, done: list[tuple[WriteOutcome, LedgerEntry | None]]) -> None:
        """Store a batch's answers, ledger entries and error history in one transaction of a few statements."""
        if not done:
            return
        with self.store.engine.begin() as conn:
            outbox_store.settle(conn, self.profile, [outbox_store.Settled(o.write.request_id, o.ok, o.record or {})
                                                     for o, _ in done])
            entries = [(entry, ((o.record or {}).get("MetaData") or {}).get("LastUpdatedTime"))
                       for o, entry in done if o.ok and entry is not None]
            if entries:
                self.ledger.record_many(entries, conn)
            written: dict[str, list[str]] = {}
            for outcome, _ in done:
                write = outcome.write
                if outcome.ok:
                    written.setdefault(write.flow, []).append(write.source_key)
                else:
                    record_error(conn, self.profile, write.flow, write.source_key, run_id=self.run_id,
                                 fault_class=outcome.fault_class or "transient", code=outcome.code,
                                 message=outcome.message or "write failed", hint=outcome.hint)
            for flow, keys in written.items():
                resolve_errors_of(conn, self.profile, flow, list(dict.fromkeys(keys)))
            progress_run(conn, self.run_id, self.state.done)
        self.settled += len(done)
        if self.settled >= self.analyze_at:  # the tables this run grows: at 500, 2,000, 8,000 ... writes
            self.analyze_at *= 4
            self.store.refresh_statistics(("outbox", "ledger", "errors"))

    def _fail_before_send(self, change: Change, message: str, *, hint: str | None = None) -> None:
        with self.store.engine.begin() as conn:
            record_error(conn, self.profile, change.flow, change.key, run_id=self.run_id, fault_class="data",
                         code=None, message=message, hint=hint)
        self.state.failures.append((change.flow, change.key, message))
        self.state.counts["failed"] += 1
        self.tick(f"{change.entity} {change.label}")

    # -- steps -------------------------------------------------------------------------------------
    def create_references(self) -> None:
        """Referenced records (customers, items ...) first, in batches, up to CONCURRENT_BATCHES in flight:
        they do not depend on each other, and every later write may need their ids."""
        prepared: list[tuple[Mapping[str, Any], TargetWrite]] = []
        for create in self._creates():
            try:
                fields = to_plain(create["fields"])
                write = TargetWrite(entity=create["entity"], operation="create", payload=fields,
                                    request_id=request_id(self.profile, "ref", f"{create['entity']}:{create['by']}="
                                                          f"{create['value']}", "create", payload_hash(fields)),
                                    flow=f"ref:{create['entity']}", source_key=str(create["value"]),
                                    match={create["by"]: create["value"]})
            except Exception as exc:  # one bad record fails alone
                why = (f"{create.get('entity')} {create.get('by')}={create.get('value')!r} could not be prepared: "
                       f"{_unexpected(exc)}")
                self.state.failed[str(create.get("placeholder"))] = why
                self.state.failures.append((f"ref:{create.get('entity')}", str(create.get("value")), why))
                self.tick(f"{create.get('entity')} {create.get('value')}")
                continue
            prepared.append((create, write))
        batches: list[list[tuple[Mapping[str, Any], TargetWrite]]] = []
        for start in range(0, len(prepared), BATCH_SIZE):
            group = prepared[start:start + BATCH_SIZE]
            writes, done = self._enqueue([w for _, w in group])
            todo = []
            concluded = []
            for (create, _), write in zip(group, writes, strict=True):
                if write.request_id in done:
                    concluded.append((create, WriteOutcome(write, True, record=done[write.request_id])))
                else:
                    todo.append((create, write))
            self._references_done(concluded)
            if todo:
                batches.append(todo)
        sent = self.pool.map(lambda batch: _send_safely(self.writer, [w for _, w in batch]), batches)
        for batch, outcomes in zip(batches, sent, strict=True):
            self._references_done([(create, outcome) for (create, _), outcome in zip(batch, outcomes, strict=True)])

    def _references_done(self, done: list[tuple[Mapping[str, Any], WriteOutcome]]) -> None:
        for create, outcome in done:
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
            self.tick(f"{create['entity']} {create['value']}")
        self._settle([(outcome, None) for _, outcome in done])

    def writer_for(self, connection: str) -> Writer:
        """Product write-backs go to their connection's writer; everything else to the QBO writer."""
        return self.writers.get(connection, self.writer)

    def _prepare(self, change: Change) -> TargetWrite | None:
        """The write of a change, under its planned requestid (the outbox may swap in an unsettled one)."""
        try:
            plain = change.payload.unpack() if isinstance(change.payload, PackedPayload) else change.payload or {}
            payload = with_numbers(_substitute(plain, self.state), change.numbers)
            match = _substitute(dict(change.match or {}), self.state) or None
        except LookupError as missing:
            self._fail_before_send(change, f"not sent: {missing}")
            return None
        except Exception as exc:  # one bad record fails alone
            self._fail_before_send(change, f"not sent: {_unexpected(exc)}", hint=UNEXPECTED_HINT)
            return None
        operation = "update" if change.action == "adopt" else change.action
        planned = change.request_id or request_id(self.profile, change.flow, change.key, change.action, "")
        return TargetWrite(entity=change.entity, operation=operation, payload=payload, request_id=planned,
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
            self._submit([(change, write)], background=False)
        self._submit(pending)
        self._drain(0)

    def _submit(self, pending: list[tuple[Change, TargetWrite]], *, background: bool = True) -> None:
        """Record a batch's writes in the outbox, then send it: in the background to the main target (its
        client keeps under the rate limits), at once to any other writer. Settling stays in plan order."""
        if not pending:
            return
        writes, done = self._enqueue([w for _, w in pending])
        todo: list[tuple[Change, TargetWrite]] = []
        concluded: list[tuple[Change, TargetWrite, WriteOutcome]] = []
        for (change, _), write in zip(pending, writes, strict=True):
            if write.request_id in done:
                concluded.append((change, write, WriteOutcome(write, True, record=done[write.request_id])))
            else:
                todo.append((change, write))
        pending.clear()
        self._conclude(concluded)
        if not todo:
            return
        writer = self.writer_for(todo[0][0].connection)
        writes = [w for _, w in todo]
        if writer is self.writer and background:
            self._drain(CONCURRENT_BATCHES - 1)
            self.inflight.append((todo, self.pool.submit(_send_safely, writer, writes)))
        else:
            self._drain(0)
            self._settle_batch(todo, _send_safely(writer, writes))

    def _drain(self, keep: int) -> None:
        """Settle the oldest batches in flight until at most ``keep`` remain."""
        while len(self.inflight) > keep:
            todo, future = self.inflight.popleft()
            self._settle_batch(todo, future.result())

    def _settle_batch(self, todo: list[tuple[Change, TargetWrite]], outcomes: list[WriteOutcome]) -> None:
        self._conclude([(change, write, outcome) for (change, write), outcome in zip(todo, outcomes, strict=True)])

    def _conclude(self, done: list[tuple[Change, TargetWrite, WriteOutcome]]) -> None:
        """Count a batch's outcomes, then store them with their ledger entries in one transaction; a
        record whose entry cannot be made fails alone."""
        settled: list[tuple[WriteOutcome, LedgerEntry | None]] = []
        attach: list[tuple[Change, str]] = []
        for change, write, answer in done:
            entry, outcome = None, answer
            if outcome.ok:
                try:
                    entry = self._entry(change, write, outcome.record)
                except Exception as exc:  # one bad record fails alone
                    outcome = WriteOutcome(write, False, record=outcome.record, fault_class="data",
                                           message=f"written, but not recorded: {_unexpected(exc)}",
                                           hint=UNEXPECTED_HINT)
            if outcome.ok:
                record = outcome.record or {}
                if change.action == "create" and record.get("Id") is not None:
                    self.state.ids[f"$flow:{change.flow}:{change.key}"] = str(record["Id"])
                self.state.counts[change.action] += 1
                if change.attachments:
                    attach.append((change, str(record.get("Id") or change.target_id or "")))
            else:
                self.state.counts["failed"] += 1
                self.state.failures.append((change.flow, change.key, outcome.message or "write failed"))
                if change.action == "create":
                    self.state.failed[f"$flow:{change.flow}:{change.key}"] = (
                        f"{change.flow} {change.key} was not written: {outcome.message}")
            self.tick(f"{change.entity} {change.label}")
            settled.append((outcome, entry))
        self._settle(settled)
        for change, target_id in attach:
            self._attach(change, target_id)

    def _attach(self, change: Change, target_id: str) -> bool:
        """Upload and link each file once: the outbox remembers attachments already made. True when none
        failed."""
        ok = True
        for attachment in change.attachments:
            rid = request_id(self.profile, change.flow, change.key, "attach", f"{target_id}|{attachment['url']}")
            write = TargetWrite(entity=change.entity, operation="attach", payload=dict(attachment), request_id=rid,
                                flow=change.flow, source_key=change.key, target_id=target_id)
            if self._enqueue([write])[1]:
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
                    try:
                        outcome = self.attacher.attach(write, content)
                    except Exception as exc:  # one bad record fails alone
                        outcome = _unexpected_outcome(write, exc)
            if outcome.ok:
                self.state.counts["attached"] += 1
            else:
                ok = False
                self.state.failures.append((change.flow, change.key, outcome.message or "attachment failed"))
            self._settle([(outcome, None)])
        return ok


UNEXPECTED_HINT = ("an unexpected error in Passerelle while applying this record; the rest of the run went on. "
                   "Sync again once fixed, or report the message")


def _unexpected(exc: Exception) -> str:
    """An unexpected failure (a bug, a value nothing foresaw) as one record's error message."""
    return f"unexpected {type(exc).__name__}: {exc}"


def _unexpected_outcome(write: TargetWrite, exc: Exception) -> WriteOutcome:
    return WriteOutcome(write, False, fault_class="data", message=f"not written: {_unexpected(exc)}",
                        hint=UNEXPECTED_HINT)


def _send_safely(writer: Writer, writes: list[TargetWrite]) -> list[WriteOutcome]:
    """Send a batch; when it fails unexpectedly (not a fault the target classified), each write is sent
    alone, so only the record that caused it fails. Resending is safe: the requestids make the target
    replay what it wrote already. The project's own errors (a refused token ...) still stop the run."""
    try:
        return _send_batch(writer, writes)
    except PasserelleError:
        raise
    except Exception as exc:  # narrowed below, write by write
        if len(writes) == 1:
            return [_unexpected_outcome(writes[0], exc)]
    outcomes = []
    for write in writes:
        try:
            outcomes.append(writer.write(write))
        except PasserelleError:
            raise
        except Exception as exc:
            outcomes.append(_unexpected_outcome(write, exc))
    return outcomes


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


