"""Plan: what a sync would do, as data — computed from source records, the ledger and live target
reads, and writing nothing anywhere.

A plan lists creates, updates (with each changed field), voids, deletes, conflicts (a record we
wrote was changed by hand in the target since), skips with their reason and record errors;
unchanged records are only counted. Records a later flow needs from an earlier one in the same
plan (an invoice's id for its payment) are referred to by placeholders that apply resolves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from engine.build import freeze
from engine.compile import CompiledFlow
from engine.context import Ledger
from engine.evaluate import Evaluation, evaluate, evaluate_gone
from engine.pipeline import Loaded
from engine.runtime.canonical import canonical_json, decimal_paths, request_id, to_plain
from engine.runtime.compare import diff_fields, same
from engine.runtime.guard import StateGuard
from engine.runtime.ports import Criteria, LedgerEntry, LiveReads, Source, Target
from engine.runtime.source_records import SourceBackedReferenceData
from engine.runtime.spill import SpillingList

__all__ = ["PLAN_VERSION", "Change", "CreateDiffs", "FieldChange", "PackedDiffs", "PackedPayload", "Plan",
           "PlanOptions", "PlanProgress", "ProgressCallback", "flow_order", "make_plan", "pack_payload",
           "payload_digest"]

PLAN_VERSION = 1
# Source records planned together: their ledger entries are read in one query, and the target's live state
# and match lookups in a few bulk queries (QBO answers up to 1000 rows a page).
PLAN_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


def _pack(plain: Any) -> bytes:
    return zlib.compress(json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode(), 1)


def _unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


class PackedPayload(Mapping[str, Any]):
    """A change's plain payload kept as compressed JSON (about a tenth of the dicts' memory): a first sync
    plans every record as a create, and a plan of 100k of them must fit in a few hundred MB. Decoded on
    each read (``unpack`` once when reading many fields); equal to the same payload as a dict."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def unpack(self) -> dict[str, Any]:
        value: dict[str, Any] = _unpack(self._data)
        return value

    def __getitem__(self, key: str) -> Any:
        return self.unpack()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.unpack())

    def __len__(self) -> int:
        return len(self.unpack())

    def __contains__(self, key: object) -> bool:
        return key in self.unpack()

    def keys(self) -> Any:
        return self.unpack().keys()

    def items(self) -> Any:
        return self.unpack().items()

    def values(self) -> Any:
        return self.unpack().values()

    def get(self, key: str, default: Any = None) -> Any:
        return self.unpack().get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedPayload):
            return self._data == other._data or self.unpack() == other.unpack()
        if isinstance(other, Mapping):
            return self.unpack() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.unpack())

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedPayload, (self._data,))


def pack_payload(payload: Any) -> Any:
    """``payload`` as a :class:`PackedPayload` when it is a plain JSON object; anything else as it is."""
    if type(payload) is not dict:
        return payload
    try:
        return PackedPayload(_pack(payload))
    except (TypeError, ValueError):
        return payload


class _Diffs(Sequence["FieldChange"]):
    """A change's field diffs, computed when read (rendering, JSON) instead of held per change."""

    __slots__ = ()

    def _all(self) -> tuple[FieldChange, ...]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[FieldChange]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._all())


class CreateDiffs(_Diffs):
    """A create's diffs: every field of its payload, from nothing to the value sent."""

    __slots__ = ("payload",)

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload

    def _all(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(k, None, v) for k, v in self.payload.items())

    def __reduce__(self) -> tuple[Any, ...]:
        return (CreateDiffs, (self.payload,))


class PackedDiffs(_Diffs):
    """Diffs of an update or adopt kept as compressed JSON (their values are whole payload parts)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def _all(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(f, b, a) for f, b, a in _unpack(self._data))

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedDiffs, (self._data,))


def pack_diffs(diffs: tuple[FieldChange, ...]) -> Sequence[FieldChange]:
    if not diffs:
        return ()
    try:
        return PackedDiffs(_pack([(d.field, d.before, d.after) for d in diffs]))
    except (TypeError, ValueError):
        return diffs


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    flow: str
    entity: str
    key: str
    label: str = ""
    target_id: str | None = None
    sync_token: str | None = None
    payload: Any = None
    payload_hash: str | None = None
    request_id: str | None = None
    diffs: Sequence[FieldChange] = ()  # a tuple, or computed when read (CreateDiffs, PackedDiffs)
    reason: str | None = None
    creates: tuple[Mapping[str, Any], ...] = ()
    error: Mapping[str, Any] | None = None
    match: Mapping[str, Any] | None = None
    owned_fields: tuple[str, ...] = ()
    connection: str = ""
    attachments: tuple[Mapping[str, Any], ...] = ()
    numbers: tuple[str, ...] = ()  # product writes: payload paths sent as JSON numbers (plain text here)


@dataclass(frozen=True)
class Plan:
    profile: str
    pack: str
    pack_version: str
    created_at: str
    fingerprint: str
    changes: Sequence[Change]  # a tuple, or past SPILL_AFTER changes a file-backed sequence (engine/runtime/spill.py)
    unchanged: Mapping[str, int]
    first_sync: bool
    version: int = PLAN_VERSION
    enabled: bool = True

    @property
    def key(self) -> str:
        """The profile's key in the state store (``pack/profile``)."""
        return f"{self.pack}/{self.profile}"

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return any(c.action in ("create", "adopt", "update", "void", "delete", "attach", "resolve")
                   for c in self.changes)


@dataclass(frozen=True)
class PlanOptions:
    today: str = field(default_factory=lambda: dt.date.today().isoformat())
    suspended_until: str | None = None
    record: str | None = None  # plan only this source key (manual sync of one record)
    manual: bool = False       # a manual run ignores suspension
    launched: bool = False     # a first sync the user launched: it cannot be cancelled, not even by the switch


@dataclass(frozen=True)
class PlanProgress:
    """How far a plan got, reported after each chunk (a plan of a large first sync takes a while)."""

    flow: str
    read: int      # source records read so far, every flow
    changes: int   # creates, updates, adopts ... so far
    matched: int   # records found in the target already (adopted)
    unchanged: int


ProgressCallback = Callable[[PlanProgress], None]


@dataclass(frozen=True, slots=True)
class _Mapped:
    """One record of a chunk, mapped; ``recheck`` when it read its own flow's ledger, so it is mapped
    again once the records before it are planned (it may refer to one of them)."""

    result: Evaluation
    first: str | None
    record: Mapping[str, Any] | None = None  # kept only when recheck


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A QBO write's plain payload, attachments and hash: computed once, to decide reads and the change."""

    payload: Any
    attachments: tuple[Any, ...]
    digest: str


def flow_order(flows: Mapping[str, CompiledFlow]) -> list[CompiledFlow]:
    """Flows so that each comes after those it depends on (declared, or read through `ref: {flow}`)."""
    deps: dict[str, set[str]] = {name: set(f.flow.depends_on) for name, f in flows.items()}
    ordered: list[CompiledFlow] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen or name in stack or name not in flows:
            return
        for dep in sorted(deps[name]):
            visit(dep, (*stack, name))
        seen.add(name)
        ordered.append(flows[name])

    for name in flows:
        visit(name, ())
    return ordered


class _Planned:
    """Payloads of the records this plan creates or adopts, by (flow, key), for later records that read their
    fields: past the first ones kept on disk (a first sync plans one per source record)."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str], int] = {}
        self.payloads: SpillingList[Mapping[str, Any]] = SpillingList()

    def __setitem__(self, key: tuple[str, str], payload: Mapping[str, Any]) -> None:
        self.index[key] = len(self.payloads)
        self.payloads.append(payload)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def __getitem__(self, key: tuple[str, str]) -> Mapping[str, Any]:
        return self.payloads[self.index[key]]


class _PlanLedger:
    """The ledger as the plan sees it: records this plan creates are referred to by placeholders."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.planned = _Planned()
        self.adopted: dict[tuple[str, str], str] = {}  # matched in the target: its id is known already
        self.watch: str | None = None  # the flow being mapped ahead of planning
        self.touched = False           # a read of the watched flow happened

    def target_id(self, flow: str, key: str) -> str | None:
        self.touched = self.touched or flow == self.watch
        found = self.ledger.target_id(flow, key)
        if found is None and (flow, key) in self.adopted:
            return self.adopted[(flow, key)]
        if found is None and (flow, key) in self.planned:
            return f"$flow:{flow}:{key}"
        return found

    def target_field(self, flow: str, key: str, name: str) -> Any:
        self.touched = self.touched or flow == self.watch
        found = self.ledger.target_field(flow, key, name)
        if found is None and (flow, key) in self.planned:
            return self.planned[(flow, key)].get(name)
        return found


class _Planner:
    guard: StateGuard | None = None  # checks product writes of machine-governed fields (flow `guard`)

    def __init__(self, loaded: Loaded, target: Target, ledger: Any, options: PlanOptions) -> None:
        self.loaded = loaded
        self.target = target
        self.ledger = ledger
        self.view = _PlanLedger(ledger)
        self.options = options
        self.refs = target.reference_data()
        self.unchanged: Counter[str] = Counter()
        self.start = self._start_date()
        self.profile = loaded.profile.name if loaded.profile else loaded.pack.meta.name
        self.key = loaded.resolved.key
        self.qbo = {name for name, conn in loaded.resolved.connections.items() if conn.connector == "qbo"}
        self.live = LiveReads()
        self.matched = 0
        # Records with open errors: retried by every plan, so an error closes once its cause is fixed even
        # when the record itself did not change (a table row, a QBO setting, a failed attachment).
        open_errors = getattr(ledger, "open_errors", None)
        self.retry: Mapping[str, frozenset[str]] = open_errors() if open_errors is not None else {}
        failed = getattr(ledger, "failed_attachments", None) if self.retry else None
        self.reattach: Mapping[str, frozenset[str]] = failed() if failed is not None else {}

    # -- a chunk: map every record, read what planning them needs in bulk, then plan them in order ----------
    def map(self, flow: CompiledFlow, frozen: Mapping[str, Any], duplicates: Mapping[tuple[str, str], str]) -> _Mapped:
        settings, options = self.loaded.compiled.settings, self.options
        identity = _identity(flow, frozen, settings, options) if duplicates else None
        first = duplicates.get(identity) if identity is not None else None
        self.view.watch, self.view.touched = flow.name, False
        result = evaluate(flow, frozen, settings, refs=self.refs, ledger=self.view, now=options.today,
                          manual=options.manual, duplicate_of=first)
        self.view.watch = None
        return _Mapped(result, first, frozen if self.view.touched else None)

    def remap(self, flow: CompiledFlow, item: _Mapped) -> Evaluation:
        """The record mapped again, now that the records before it are planned."""
        if item.record is None:
            return item.result
        return evaluate(flow, item.record, self.loaded.compiled.settings, refs=self.refs, ledger=self.view,
                        now=self.options.today, manual=self.options.manual, duplicate_of=item.first)

    def prepare(self, flow: CompiledFlow, result: Evaluation) -> _Prepared | None:
        if result.action != "write" or flow.flow.target.connection not in self.qbo:
            return None
        payload = to_plain(result.payload)
        attachments = tuple(to_plain(a) for a in result.attachments)
        return _Prepared(payload, attachments, payload_digest(payload, result.entity, attachments))

    def read_ahead(self, flow: CompiledFlow, mapped: list[_Mapped], prepared: list[_Prepared | None]) -> None:
        """One bulk read for the chunk: live state of the ledger's records whose payload moved (and of those to
        void or delete), match lookups of new ones. Unchanged records cost nothing; answers not given here
        are read one by one later, so the plan is the same either way."""
        read_many = getattr(self.target, "read_many", None)
        self.live = LiveReads()
        if read_many is None or flow.flow.target.connection not in self.qbo:
            return
        gets: list[tuple[str, str]] = []
        finds: list[tuple[str, Criteria]] = []
        for item, ready in zip(mapped, prepared, strict=True):
            result = item.result
            if item.record is not None or self._out_of_scope(result) is not None:
                continue
            if self.options.record is not None and result.key != self.options.record:
                continue
            entry = self.ledger.get(flow.name, result.key or "?")
            if entry is not None and entry.target_id:
                if result.action in ("void", "delete") or (ready is not None and ready.digest != entry.payload_hash
                                                           and flow.flow.operations.update):
                    gets.append((entry.target_entity, entry.target_id))
            elif result.action == "write":
                criteria = _criteria(_match(result))
                if criteria is not None:
                    finds.append((result.entity, criteria))
        if gets or finds:
            self.live = read_many(gets, finds)

    def _get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None:
        key = (entity, entity_id)
        return self.live.records[key] if key in self.live.records else self.target.get(entity, entity_id)

    def _find(self, entity: str, match: Mapping[str, Any]) -> Mapping[str, Any] | None:
        criteria = _criteria(match)
        if criteria is not None and (entity, criteria) in self.live.matches:
            return self.live.matches[(entity, criteria)]
        return self.target.find(entity, match)

    def _start_date(self) -> str | None:
        sched = self.loaded.resolved.schedule
        if sched.start_date:
            return sched.start_date
        if sched.start_date_setting:
            value = self.loaded.compiled.settings.get(sched.start_date_setting)
            return str(value) if value else None
        return None

    def label(self, flow: CompiledFlow, result: Evaluation) -> str:
        number = (result.payload or {}).get("DocNumber") if result.payload else None
        return str(number) if number else f"{flow.name} {result.key}"

    def _out_of_scope(self, result: Evaluation) -> str | None:
        """A suspended run, or a record before the start date, is out of scope: even a record that cannot be
        mapped is then a skip, not an error for the history."""
        if self.options.suspended_until and not self.options.manual and self.options.today < self.options.suspended_until:
            return f"automatic sync suspended until {self.options.suspended_until}"
        if self.start and result.date and result.date < self.start:
            return f"dated {result.date}, before the start date {self.start}"
        return None

    def change_for(self, flow: CompiledFlow, result: Evaluation, prepared: _Prepared | None = None) -> Change | None:
        key = result.key or "?"
        base: dict[str, Any] = {"flow": flow.name, "entity": result.entity, "key": key,
                                "connection": flow.flow.target.connection}
        out_of_scope = self._out_of_scope(result)
        if out_of_scope is not None:
            return Change("skip", **base, reason=out_of_scope)
        if result.action == "error":
            err = result.error
            detail = {"code": err.code, "message": err.message, "where": str(err.loc) if err and err.loc else None} \
                if err else {}
            return Change("error", **base, reason=err.message if err else "error", error=detail)
        if result.action == "skip":  # reasons repeat ("status draft is not synced"): one string each
            return Change("skip", **base, reason=sys.intern(result.reason) if result.reason else result.reason)
        entry: LedgerEntry | None = self.ledger.get(flow.name, key)
        if result.action in ("void", "delete"):
            if entry is None or entry.target_id is None:
                self.unchanged[result.entity] += 1
                return None
            if entry.state == result.action + "ed" or entry.payload_hash == f"{result.action}ed":
                self.unchanged[result.entity] += 1
                return None
            live = self._get(entry.target_entity, entry.target_id) if base["connection"] in self.qbo else None
            if base["connection"] in self.qbo and (live is None or _already_voided(self.target, live)):
                # Deleted or voided in QBO already (by a user, or our own earlier write): nothing to send back.
                self.unchanged[result.entity] += 1
                return None
            rid = request_id(self.key, flow.name, key, result.action, entry.sync_token or "")
            return Change(result.action, **{**base, "entity": entry.target_entity}, label=entry.target_id,
                          target_id=entry.target_id,
                          sync_token=str(live.get("SyncToken")) if live else entry.sync_token, request_id=rid)
        return self._write(flow, result, entry, base, prepared)

    def retried(self, flow: CompiledFlow, result: Evaluation, change: Change | None) -> Change | None:
        """What a record with open errors needs once it maps again without a write: its attachments sent
        again (the document was written, a file was not), or its errors closed."""
        key = result.key or "?"
        if key not in self.retry.get(flow.name, ()) or (change is not None and change.action != "skip"):
            return None
        base: dict[str, Any] = {"flow": flow.name, "entity": result.entity, "key": key,
                                "connection": flow.flow.target.connection}
        entry: LedgerEntry | None = self.ledger.get(flow.name, key)
        if change is None and key in self.reattach.get(flow.name, ()) and entry is not None and entry.target_id \
                and result.attachments and base["connection"] in self.qbo:
            return Change("attach", **base, label=entry.target_id, target_id=entry.target_id,
                          attachments=tuple(to_plain(a) for a in result.attachments),
                          reason="attachments not sent last time")
        why = "skipped now" if change is not None else "up to date now"
        return Change("resolve", **base, label=change.label if change is not None else "", reason=f"{why}: "
                      "its open errors close")

    def gone(self, flow: CompiledFlow, source: Source, seen: set[str]) -> Iterator[Change]:
        """The flow's `gone` rule for ledger entries whose source record did not come this time and that the
        source says are gone (deleted there). Only the source can tell: a record missing from a read may
        just be out of its page or cursor, so the source is asked about those keys, a chunk at a time."""
        ask = getattr(source, "gone", None)
        if ask is None or flow.flow.gone is None:
            return
        if self.options.record is not None:
            entry = self.ledger.get(flow.name, self.options.record)
            keys = [] if self.options.record in seen or entry is None or not entry.target_id else [self.options.record]
        else:
            entries = getattr(self.ledger, "entries", None)
            keys = [e.source_key for e in (entries(flow.name) if entries is not None else ())
                    if e.target_id and e.source_key not in seen]
        settings = self.loaded.compiled.settings
        for start in range(0, len(keys), PLAN_CHUNK):
            for key, tombstone in ask(flow.flow.source.entity, keys[start:start + PLAN_CHUNK]):
                result = evaluate_gone(flow, tombstone, key, settings, now=self.options.today,
                                       manual=self.options.manual)
                change = self.change_for(flow, result)
                if change is not None:
                    status = tombstone.get("status") or "gone"
                    yield replace(change, reason=change.reason or f"{flow.flow.source.entity} {key} is "
                                  f"{str(status).lower()} in {flow.flow.source.connection}")

    def _product_write(self, flow: CompiledFlow, result: Evaluation, entry: LedgerEntry | None,
                       base: dict[str, Any]) -> Change | None:
        """A write to a product connection: compared with what the ledger says we last wrote (product APIs
        are not read back record by record); `target_id` names an existing product record to update."""
        payload = to_plain(result.payload)
        digest = _digest({"payload": payload, "entity": result.entity})
        if entry is not None and entry.payload_hash == digest:
            self.unchanged[result.entity] += 1
            return None
        target_id = result.target_id or (entry.target_id if entry else None)
        label = target_id or base["key"]
        if target_id is None:
            if not flow.flow.operations.create:
                return Change("skip", **base, label=label, reason="creates are off for this flow")
            action, diffs = "create", tuple(FieldChange(k, None, v) for k, v in payload.items())
        else:
            if not flow.flow.operations.update:
                return Change("skip", **base, label=label, reason="updates are off for this flow")
            before = dict(entry.fields) if entry else {}
            action = "update"
            diffs = tuple(FieldChange(k, before.get(k), v) for k, v in payload.items() if not same(before.get(k), v))
        refused = self.guard.refusal(flow.flow, payload, target_id) if self.guard is not None else None
        if refused is not None:
            return Change("skip", **base, label=label, reason=refused)
        rid = request_id(self.key, flow.name, base["key"], action, digest)
        packed = pack_payload(payload)
        return Change(action, **base, label=label, target_id=target_id, payload=packed, payload_hash=digest,
                      request_id=rid, diffs=CreateDiffs(packed) if action == "create" else pack_diffs(diffs),
                      owned_fields=flow.flow.operations.owned_fields or tuple(payload),
                      numbers=tuple(sys.intern(p) for p in decimal_paths(result.payload)))

    def _write(self, flow: CompiledFlow, result: Evaluation, entry: LedgerEntry | None,
               base: dict[str, Any], prepared: _Prepared | None = None) -> Change | None:
        if base["connection"] not in self.qbo:
            attachments = tuple(to_plain(a) for a in result.attachments)
            return self._product_write(flow, result, entry, {**base, "attachments": attachments} if attachments
                                       else base)
        ready = prepared or self.prepare(flow, result)
        assert ready is not None
        payload, attachments, digest = ready.payload, ready.attachments, ready.digest
        creates = tuple({"entity": c.entity, "by": c.by, "value": c.value, "fields": to_plain(c.fields),
                         "placeholder": c.placeholder} for c in result.creates)
        if attachments:
            base = {**base, "attachments": attachments}
        owned = flow.flow.operations.owned_fields or tuple(payload)
        label = self.label(flow, result)
        if entry is not None and entry.target_id:
            if entry.payload_hash == digest:
                self.unchanged[result.entity] += 1
                return None
            if not flow.flow.operations.update:
                return Change("skip", **base, label=label, reason="updates are off for this flow")
            live = self._get(entry.target_entity, entry.target_id)
            if live is None:
                return Change("conflict", **base, label=label, target_id=entry.target_id,
                              reason=f"{entry.target_entity} {entry.target_id} no longer exists in the target")
            token = str(live.get("SyncToken"))
            if token != entry.sync_token:
                edited = [f for f in owned if f in entry.fields and not same(live.get(f), entry.fields[f])]
                if edited:
                    return Change("conflict", **base, label=label, target_id=entry.target_id, sync_token=token,
                                  payload_hash=digest,  # what "take QBO's" records as already written
                                  reason=f"changed by hand since our last write ({', '.join(edited)})")
            diffs = tuple(FieldChange(*d) for d in diff_fields(live, payload, owned))
            if not diffs:
                self.unchanged[result.entity] += 1
                return None
            rid = request_id(self.key, flow.name, base["key"], "update", digest + token)
            return Change("update", **base, label=entry.target_id, target_id=entry.target_id, sync_token=token,
                          payload=pack_payload(payload), payload_hash=digest, request_id=rid, diffs=pack_diffs(diffs),
                          creates=creates,
                          owned_fields=owned)
        match = _match(result)
        if match and not any(isinstance(v, str) and v.startswith("$") for v in match.values()):
            found = self._find(result.entity, match)
            if found is not None:
                self.matched += 1
                packed = pack_payload(payload)
                self.view.planned[(flow.name, base["key"])] = packed
                self.view.adopted[(flow.name, base["key"])] = str(found.get("Id"))
                diffs = tuple(FieldChange(*d) for d in diff_fields(found, payload, owned))
                rid = request_id(self.key, flow.name, base["key"], "adopt", digest)
                return Change("adopt", **base, label=str(found.get("Id")), target_id=str(found.get("Id")),
                              sync_token=str(found.get("SyncToken")), payload=packed, payload_hash=digest,
                              request_id=rid, diffs=pack_diffs(diffs), creates=creates, match=match, owned_fields=owned,
                              reason="matched by " + ", ".join(f"{k} = {v!r}" for k, v in match.items()))
        if not flow.flow.operations.create:
            return Change("skip", **base, label=label, reason="creates are off for this flow")
        packed = pack_payload(payload)  # held until the plan is applied: compact (see PackedPayload)
        self.view.planned[(flow.name, base["key"])] = packed
        rid = request_id(self.key, flow.name, base["key"], "create", digest)
        return Change("create", **base, label=label, payload=packed, payload_hash=digest, request_id=rid,
                      diffs=CreateDiffs(packed), creates=creates,
                      match=match or None, owned_fields=owned)


def _already_voided(target: Target, record: Mapping[str, Any]) -> bool:
    """The target decides what a voided record looks like (QBO: its memo starts with "Voided")."""
    check = getattr(target, "is_voided", None)
    return bool(check(record)) if check is not None else False


def make_plan(loaded: Loaded, target: Target, sources: Mapping[str, Source], ledger: Any,
              options: PlanOptions | None = None, *, progress: ProgressCallback | None = None) -> Plan:
    """The plan of one profile's sync. Reads only.

    Each flow's records go in chunks: mapped, then the chunk's target reads done in bulk (when the
    target can), then planned one by one in source order. ``progress`` hears after every chunk."""
    options = options or PlanOptions()
    compiled = loaded.compiled
    if not loaded.resolved.enabled and not options.launched:
        return Plan(profile=loaded.profile.name if loaded.profile else loaded.pack.meta.name,
                    pack=loaded.pack.meta.name, pack_version=loaded.pack.meta.version,
                    created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), fingerprint="",
                    changes=(), unchanged={}, first_sync=False, enabled=False)
    planner = _Planner(loaded, target, ledger, options)
    planner.guard = StateGuard(compiled.machines, loaded.resolved.connections, sources)
    planner.refs = SourceBackedReferenceData(planner.refs, sources)  # `ref: {connection}` finds product records
    changes: SpillingList[Change] = SpillingList()  # a first sync's creates go to disk past the first ones
    read = 0
    for flow in flow_order(compiled.flows):
        source = sources.get(flow.flow.source.connection)
        if not flow.enabled or source is None:
            continue
        duplicates = _duplicates(flow, source, compiled.settings, options) if flow.unique is not None else {}
        seen: set[str] = set()  # the keys read, when the flow has a `gone` rule for the others
        for chunk in _chunks(_records(source, flow, options), flow, ledger, compiled.settings, options):
            mapped = [planner.map(flow, frozen, duplicates) for frozen in chunk]
            prepared = [planner.prepare(flow, item.result) for item in mapped]
            planner.read_ahead(flow, mapped, prepared)
            for item, ready in zip(mapped, prepared, strict=True):
                result = planner.remap(flow, item)
                if flow.flow.gone is not None:
                    seen.add(result.key or "?")
                if options.record is not None and result.key != options.record:
                    continue
                first = item.first
                change = _unique_policy(flow, result, first) or planner.change_for(
                    flow, result, ready if result is item.result else None)
                retry = planner.retried(flow, result, change) if planner.retry else None
                if change is not None:
                    if first is not None and change.action in ("create", "update", "adopt"):
                        change = replace(change, reason=f"possible duplicate of {flow.name} {first}")
                    changes.append(change)
                if retry is not None:
                    changes.append(retry)
            read += len(chunk)
            planner.live = LiveReads()
            if progress is not None:
                progress(PlanProgress(flow.name, read, len(changes), planner.matched, sum(planner.unchanged.values())))
        changes.extend(planner.gone(flow, source, seen))
    first_sync = not any(_has_entries(ledger, f) for f in compiled.flows)
    return Plan(profile=planner.profile, pack=loaded.pack.meta.name, pack_version=loaded.pack.meta.version,
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), fingerprint=target.fingerprint(),
                changes=changes.done(), unchanged=dict(planner.unchanged), first_sync=first_sync)


def _match(result: Evaluation) -> dict[str, Any]:
    return {k: to_plain(v) for k, v in result.match if v not in (None, "")}


def _criteria(match: Mapping[str, Any]) -> Criteria | None:
    """A match as a lookup key for bulk reads; None when a value is not text (read alone)."""
    if not match or not all(isinstance(v, str) and not v.startswith("$") for v in match.values()):
        return None
    return tuple(match.items())


def payload_digest(payload: Any, entity: str, attachments: tuple[Any, ...] = ()) -> str:
    """A write's ``payload_hash``: of its plain payload, entity and attachments (the ledger keeps it to tell
    an unchanged record without reading QBO)."""
    hashed: dict[str, Any] = {"payload": payload, "entity": entity}
    if attachments:
        hashed["attachments"] = list(attachments)
    return _digest(hashed)


def _digest(plain: Any) -> str:
    """``payload_hash`` of data that is plain already (``to_plain`` output): the same hash, one walk fewer."""
    return hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def _chunks(records: Iterable[Mapping[str, Any]], flow: CompiledFlow, ledger: Any,
            settings: Mapping[str, Any], options: PlanOptions) -> Iterator[list[Mapping[str, Any]]]:
    """The source's records, frozen, in order, a chunk at a time; each chunk's ledger entries are read in
    one query first (``ledger.prefetch``), so planning never holds more than a chunk or two of the
    ledger in memory.

    A record whose key cannot be computed here (an error the evaluation will report) is simply not
    prefetched: ``ledger.get`` then reads it alone."""
    prefetch = getattr(ledger, "prefetch", None)
    it = iter(records)
    while chunk := [freeze(record) for record in islice(it, PLAN_CHUNK)]:
        if prefetch is not None:
            keys = [key for key in (_key(flow, record, settings, options) for record in chunk) if key is not None]
            prefetch(flow.name, keys)
        yield chunk


def _key(flow: CompiledFlow, record: Mapping[str, Any], settings: Mapping[str, Any],
         options: PlanOptions) -> str | None:
    try:
        return str(flow.key(_scope(record, settings, options)))
    except Exception:
        return None


def _scope(record: Mapping[str, Any], settings: Mapping[str, Any], options: PlanOptions) -> dict[str, Any]:
    return {"record": record, "settings": settings, "vars": {}, "now": options.today, "state": None,
            "manual": options.manual, "duplicate_of": None}


def _identity(flow: CompiledFlow, record: Mapping[str, Any], settings: Mapping[str, Any],
              options: PlanOptions) -> tuple[str, str] | None:
    """(duplicate key, record key) of a record, or None when either cannot be computed."""
    assert flow.unique is not None
    scope = _scope(record, settings, options)
    try:
        return canonical_json(flow.unique(scope)), str(flow.key(scope))
    except Exception:
        return None


def _duplicates(flow: CompiledFlow, source: Source, settings: Mapping[str, Any],
                options: PlanOptions) -> dict[tuple[str, str], str]:
    """For every record after the first with the same `unique` key: its identity -> the first's record key.

    A first pass over the source keeps only the keys, so memory grows with the number of keys, not records."""
    first: dict[str, str] = {}
    out: dict[tuple[str, str], str] = {}
    for record in _records(source, flow, options):
        identity = _identity(flow, freeze(record), settings, options)
        if identity is None:
            continue
        unique_key, record_key = identity
        if unique_key in first and first[unique_key] != record_key:
            out[identity] = first[unique_key]
        else:
            first.setdefault(unique_key, record_key)
    return out


def _unique_policy(flow: CompiledFlow, result: Evaluation, first: str | None) -> Change | None:
    """`unique.action`: report (write, flagged), skip, or error for records duplicating an earlier one."""
    if first is None or flow.flow.unique is None or result.action not in ("write",):
        return None
    action = flow.flow.unique.action
    reason = f"duplicate of {flow.name} {first} (same {flow.flow.unique.key.text})"
    base: dict[str, Any] = {"flow": flow.name, "entity": result.entity, "key": result.key or "?",
            "connection": flow.flow.target.connection}
    if action == "skip":
        return Change("skip", **base, reason=reason)
    if action == "error":
        return Change("error", **base, reason=reason, error={"code": "E610", "message": reason,
                                                              "where": str(flow.flow.unique.key.loc)})
    return None


def _records(source: Source, flow: CompiledFlow, options: PlanOptions) -> Iterable[Mapping[str, Any]]:
    return source.records(flow.flow.source.entity)


def _has_entries(ledger: Any, flow: str) -> bool:
    entries = getattr(ledger, "entries", None)
    if entries is None:
        return False
    return next(iter(entries(flow)), None) is not None


def summary(plan: Plan) -> dict[str, dict[str, int]]:
    """Counts per entity and action, unchanged included."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for change in plan.changes:
        table[change.entity][change.action] += 1
    for entity, count in plan.unchanged.items():
        table[entity]["unchanged"] += count
    return {entity: dict(counts) for entity, counts in sorted(table.items())}
