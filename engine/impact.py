"""Change impact: what an edit of packs or profiles does to each customer, before it is merged.

Each profile is compiled twice, from the packs as they were (the base) and as they are, and both are
planned against the same inputs: every case of the profile's pack (records, QBO company, ledger and
date of ``<pack>/cases/<case>/``, planned with this profile instead of the case's own), and
optionally the live company (read only). What differs is the impact: documents now created, updated
(field by field), skipped or in error that were not before, and the profile's effective settings and
table rows that changed. Profiles present at the base and gone now are reported as removed.

Only what an edit can reach is compiled and planned, so a pack of many profiles stays fast to check:
a profile whose file and pack folder are byte for byte the same on both sides is not even resolved;
one whose effective configuration is the same on both sides (same settings, rows, flows, machines,
checks: locations, descriptions and comments aside) is resolved but neither compiled nor planned.
Each side (``PackLoader``) builds a pack once and compiles a profile once whatever number of profiles
and cases share them, and plans every case in one migrated in-memory store.

The stages are values: ``Loaded`` pairs in, ``ProfileImpact`` (frozen) out; nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.compile import compile_pack
from engine.errors import Loc, PasserelleError, RuleError
from engine.model import Profile, RulePack
from engine.packtest import Case, case_outputs, load_case, plan_case, with_profile
from engine.pipeline import Loaded, load_pack, load_profile, pack_file, run_pipeline
from engine.resolve import ResolvedPack, resolve
from engine.runtime.canonical import to_plain
from engine.runtime.plan import Change, FieldChange, Plan
from engine.store import Store, open_store

__all__ = [
    "CaseDelta", "ConfigChange", "DocumentChange", "Impact", "PackLoader", "ProfileImpact", "Shapes", "case_delta",
    "config_changes", "diff_plans", "fingerprint", "impact_to_json", "pack_cases", "profile_impact", "render_impact",
    "run_impact",
]

# Fields of the pipeline's values that cannot change what a plan holds.
_INERT_FIELDS = frozenset({"loc", "description", "title", "root", "files", "file", "pack_ref_loc", "meta", "examples"})
_WRITES = ("create", "adopt", "update", "void", "delete")


class PackLoader:
    """One side of a comparison (the packs now, or at the base): each pack built once, each profile read and
    compiled once, and every case planned in one migrated in-memory store (migrating a store costs more
    than planning a case). What fails is not kept: it is tried again, and fails again with its errors.
    Use it from one thread (an in-memory SQLite store belongs to its connection)."""

    def __init__(self) -> None:
        self._packs: dict[Path, RulePack] = {}
        self._profiles: dict[Path, tuple[Profile, RulePack]] = {}
        self._loaded: dict[Path, Loaded] = {}
        self._digests: dict[Path, str] = {}
        self._store: Store | None = None
        self.shape = Shapes()

    def __call__(self, path: Path) -> RulePack:
        key = pack_file(path).resolve()
        pack = self._packs.get(key)
        if pack is None:
            pack = self._packs[key] = load_pack(path)
        return pack

    def profile(self, path: Path) -> tuple[Profile, RulePack]:
        """The profile file read and its pack built (not resolved, not compiled)."""
        key = path.resolve()
        if key not in self._profiles:
            self._profiles[key] = load_profile(path, self)
        return self._profiles[key]

    def pipeline(self, path: Path) -> Loaded:
        """A profile (or pack) compiled, once."""
        key = path.resolve()
        if key not in self._loaded:
            self._loaded[key] = run_pipeline(path, self)
        return self._loaded[key]

    def plan(self, case: Case) -> Plan:
        if self._store is None:
            self._store = open_store("sqlite://")
        return plan_case(case, self._store)

    def outputs(self, case: Case) -> dict[str, str]:
        if self._store is None:
            self._store = open_store("sqlite://")
        return case_outputs(case, self._store)

    def digest(self, folder: Path) -> str:
        """A digest of every file of a pack's folder but its cases and customers (what the pack is made of)."""
        key = folder.resolve()
        if key not in self._digests:
            digest = hashlib.blake2b(digest_size=20)
            for file in sorted(_pack_files(key)):
                digest.update(file.relative_to(key).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
            self._digests[key] = digest.hexdigest()
        return self._digests[key]

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def __enter__(self) -> PackLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pack_files(folder: Path) -> Iterator[Path]:
    """Every file of a pack's folder (hidden ones too: a pack may include one) but its cases, customers and
    version-control folders. A stray file (an editor's swap file) only costs the shortcut, never a change."""
    for path in folder.iterdir():
        if path.is_dir() and path.name in ("cases", "customers", ".git", "__pycache__"):
            continue
        if path.is_dir():
            yield from (f for f in path.rglob("*") if f.is_file() and ".git" not in f.relative_to(path).parts)
        elif path.is_file():
            yield path


def _same_file(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


# -- what differs in a profile's configuration ------------------------------------------------------


def _shape(value: Any) -> Any:
    """A comparable value of a pipeline value, without locations, descriptions or paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple((f.name, _shape(getattr(value, f.name))) for f in dataclasses.fields(value)
                                            if f.name not in _INERT_FIELDS))
    if isinstance(value, Mapping):
        return tuple((repr(k), _shape(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_shape(v) for v in value)
    if isinstance(value, (Loc, Path)):
        return None
    if isinstance(value, Decimal):
        return ("decimal", str(value.normalize()))
    return value


Shape = Callable[[Any], Any]


class Shapes:
    """``_shape`` remembered per object: a pack's flows, machines, checks and unchanged tables are the same
    objects for every profile of a side, so each is walked once, not once per profile."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[object, Any]] = {}  # the object is kept, so its id is never reused

    def __call__(self, value: Any) -> Any:
        hit = self._memo.get(id(value))
        if hit is None or hit[0] is not value:
            hit = self._memo[id(value)] = (value, _shape(value))
        return hit[1]


def fingerprint(resolved: ResolvedPack, shape: Shape = _shape) -> Any:
    """Everything of a resolved profile that can change a plan (equal fingerprints plan identically)."""
    pack = resolved.pack
    return (shape(pack.flows), shape(pack.machines), shape(pack.checks),
            tuple((name, shape(table)) for name, table in resolved.tables.items()),
            _shape((pack.meta.name, resolved.setting_values(), resolved.connections, resolved.secrets,
                    resolved.schedule, resolved.enabled, resolved.allowed_hosts, resolved.private_hosts)))


@dataclass(frozen=True)
class ConfigChange:
    """One effective setting, table row or rule of a profile that the edit changes (``None``: absent)."""

    kind: str   # setting, row, table, flow, machine, check, connection, schedule, profile
    name: str
    before: Any = None
    after: Any = None

    @property
    def text(self) -> str:
        if self.kind in ("setting", "row"):
            return f"{self.kind} {self.name}: {_show(self.before)} -> {_show(self.after)}"
        state = "added" if self.before is None else "removed" if self.after is None else "changed"
        return f"{self.kind} {self.name} {state}"


def _show(value: Any) -> str:
    import json

    if value is None:
        return "(none)"
    text = json.dumps(to_plain(value), ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 70 else text[:67] + "..."


def _named(kind: str, before: Mapping[str, Any], after: Mapping[str, Any], shape: Shape) -> Iterator[ConfigChange]:
    for name in dict.fromkeys([*after, *before]):
        old, new = before.get(name), after.get(name)
        if shape(old) != shape(new):
            yield ConfigChange(kind, name, "before" if old is not None else None, "after" if new is not None else None)


def config_changes(before: Loaded, after: Loaded, shape: Shape = _shape) -> tuple[ConfigChange, ...]:
    """What the edit changes in this profile's effective configuration, setting by setting and row by row."""
    return _changes(before.resolved, after.resolved, shape)


def _changes(old: ResolvedPack, new: ResolvedPack, shape: Shape) -> tuple[ConfigChange, ...]:
    out: list[ConfigChange] = []
    old_settings, new_settings = old.setting_values(), new.setting_values()
    for name in dict.fromkeys([*new_settings, *old_settings]):
        a, b = old_settings.get(name), new_settings.get(name)
        if _shape(a) != _shape(b):
            out.append(ConfigChange("setting", name, a, b))
    for name in dict.fromkeys([*new.tables, *old.tables]):
        t_old, t_new = old.tables.get(name), new.tables.get(name)
        if t_old is None or t_new is None:
            out.append(ConfigChange("table", name, None if t_old is None else "before", None if t_new is None else "after"))
            continue
        for key in dict.fromkeys([*t_new.rows, *t_old.rows]):
            r_old, r_new = t_old.rows.get(key), t_new.rows.get(key)
            v_old, v_new = (None if r_old is None else r_old.value), (None if r_new is None else r_new.value)
            if _shape(v_old) != _shape(v_new):
                out.append(ConfigChange("row", f"{name}[{key!r}]", v_old, v_new))
        policy = ("key_type", "value_type", "on_missing", "default", "keys", "refers_to")
        if any(_shape(getattr(t_old, f, None)) != _shape(getattr(t_new, f, None)) for f in policy):
            out.append(ConfigChange("table", name, "before", "after"))
    out += _named("flow", old.pack.flows, new.pack.flows, shape)
    out += _named("machine", old.pack.machines, new.pack.machines, shape)
    out += _named("check", old.pack.checks, new.pack.checks, shape)
    out += _named("connection", old.connections, new.connections, shape)
    if _shape(old.schedule) != _shape(new.schedule):
        out.append(ConfigChange("schedule", "schedule", "before", "after"))
    if not out and fingerprint(old, shape) != fingerprint(new, shape):
        out.append(ConfigChange("profile", "other options (secrets, hosts, enabled)", "before", "after"))
    return tuple(out)


def _row_keys(old: ResolvedPack, new: ResolvedPack) -> dict[str, set[Any]]:
    """Table -> keys of the rows the edit adds, removes or changes."""
    out: dict[str, set[Any]] = {}
    for name, table in new.tables.items():
        rows, before = table.rows, old.tables[name].rows
        changed = {k for k in {*rows, *before} if _shape(getattr(rows.get(k), "value", None))
                   != _shape(getattr(before.get(k), "value", None))}
        if changed:
            out[name] = changed
    return out


class _Lookups:
    """The table keys a plan looks up (``compile_pack(observe=...)``), gathered case by case."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, Any]] = set()
        self.unknown = False  # a key that cannot be compared (unhashable): assume it reaches anything

    def __call__(self, table: str, key: Any) -> None:
        try:
            self.keys.add((table, key))
        except TypeError:
            self.unknown = True

    def clear(self) -> None:
        self.keys.clear()
        self.unknown = False

    def reach(self, rows: Mapping[str, set[Any]]) -> bool:
        return self.unknown or any((table, key) in self.keys for table, keys in rows.items() for key in keys)


# -- what differs in a plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentChange:
    """One document planned differently: its action before and after (``unchanged`` when not in the plan)
    and, when both write it, the fields that differ (before -> after)."""

    inputs: str  # the case (or ``live``) the plans were computed from
    flow: str
    key: str
    entity: str
    label: str
    before: str
    after: str
    fields: tuple[FieldChange, ...] = ()
    reason_before: str | None = None
    reason_after: str | None = None

    @property
    def sign(self) -> str:
        if self.after == self.before:
            return "~"
        return {"create": "+", "adopt": "=", "update": "~", "void": "-", "delete": "-", "conflict": "!", "skip": "?",
                "error": "x", "unchanged": "."}.get(self.after, "~")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        if not value and prefix:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        if not value and prefix:
            return {prefix: []}
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _field_changes(before: Any, after: Any) -> tuple[FieldChange, ...]:
    old, new = _flatten(to_plain(before)), _flatten(to_plain(after))
    return tuple(FieldChange(path, old.get(path), new.get(path))
                 for path in dict.fromkeys([*new, *old]) if old.get(path) != new.get(path))


def _signature(change: Change | None) -> Any:
    if change is None:
        return None
    error = (change.error or {}).get("code"), (change.error or {}).get("message")
    return to_plain((change.action, change.entity, change.label, change.target_id, change.payload,
                     [(d.field, d.before, d.after) for d in change.diffs], change.reason if not change.error else None,
                     change.creates, error, change.match, change.attachments, change.owned_fields))


def _keyed(plan: Plan) -> dict[tuple[str, str, int], Change]:
    seen: Counter[tuple[str, str]] = Counter()
    out = {}
    for change in plan.changes:
        out[(change.flow, change.key, seen[(change.flow, change.key)])] = change
        seen[(change.flow, change.key)] += 1
    return out


def diff_plans(before: Plan, after: Plan, inputs: str) -> tuple[DocumentChange, ...]:
    """Documents the two plans treat differently, in the order of the newer plan."""
    old, new = _keyed(before), _keyed(after)
    out = []
    for key in dict.fromkeys([*new, *old]):
        a, b = old.get(key), new.get(key)
        if _signature(a) == _signature(b):
            continue
        some = b or a
        assert some is not None
        fields: tuple[FieldChange, ...] = ()
        if a is not None and b is not None and a.payload is not None and b.payload is not None:
            fields = _field_changes(a.payload, b.payload)
            if to_plain(a.creates) != to_plain(b.creates):
                fields += (FieldChange("(records created first)", to_plain(a.creates), to_plain(b.creates)),)
        elif b is not None and b.action == "update":
            fields = tuple(b.diffs)
        out.append(DocumentChange(inputs, some.flow, some.key, some.entity, some.label,
                                  a.action if a else "unchanged", b.action if b else "unchanged", fields,
                                  a.reason if a else None, b.reason if b else None))
    return tuple(out)


# -- one profile ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileImpact:
    """What the edit does to one profile. ``status``: unchanged, changed, added (not at the base), removed
    (at the base, gone now) or error."""

    profile: str
    status: str
    config: tuple[ConfigChange, ...] = ()
    documents: tuple[DocumentChange, ...] = ()
    inputs: tuple[str, ...] = ()   # the cases (and ``live``) planned
    errors: tuple[RuleError, ...] = ()

    @property
    def changed(self) -> bool:
        return self.status in ("changed", "added", "removed")


LivePlans = Callable[[Loaded, Loaded], tuple[Plan, Plan]]


def profile_impact(name: str, head: Path, base: Path | None, cases: Callable[[], Sequence[Case]], *,
                   head_load: PackLoader, base_load: PackLoader, base_root: Path,
                   live: LivePlans | None = None) -> ProfileImpact:
    """Compare ``head`` (the profile file now) with ``base`` (its counterpart, None when it did not exist),
    and plan both against ``cases()`` (read only when needed; and the live company when ``live`` is given)
    when their effective configurations differ."""
    try:
        profile, pack = head_load.profile(head)
        if base is None or not base.is_file():
            head_load.pipeline(head)  # a new profile's errors are the edit's
            return ProfileImpact(name, "added")
    except PasserelleError as exc:
        return ProfileImpact(name, "error", errors=exc.errors)
    try:
        base_profile, base_pack = base_load.profile(base)
    except PasserelleError as exc:
        return _base_failed(name, head, head_load, exc)
    if _same_file(head, base) and head_load.digest(pack.root) == base_load.digest(base_pack.root):
        return ProfileImpact(name, "unchanged")  # the same files: nothing to resolve, compile or plan
    try:
        now = resolve(pack, profile)
    except PasserelleError as exc:
        return ProfileImpact(name, "error", errors=exc.errors)
    try:
        then = resolve(base_pack, base_profile)
    except PasserelleError as exc:
        return _base_failed(name, head, head_load, exc)
    if fingerprint(then, head_load.shape) == fingerprint(now, head_load.shape):  # the same configuration
        return ProfileImpact(name, "unchanged")
    config = _changes(then, now, head_load.shape)
    if all(c.kind == "row" for c in config):
        return _rows_impact(name, (head, now), (base, then), config, cases, head_load=head_load, base_load=base_load,
                            base_root=base_root, live=live)
    try:
        after = head_load.pipeline(head)
    except PasserelleError as exc:
        return ProfileImpact(name, "error", errors=exc.errors)
    try:
        before = base_load.pipeline(base)
    except PasserelleError as exc:
        return _base_failed(name, head, head_load, exc)
    documents: list[DocumentChange] = []
    inputs = []
    for case in cases():
        inputs.append(case.name)
        documents += diff_plans(base_load.plan(with_profile(case, before, base_root.parent)),
                                head_load.plan(with_profile(case, after, case.display_root)), case.name)
    if live is not None:
        inputs.append("live")
        documents += diff_plans(*live(before, after), "live")
    return ProfileImpact(name, "changed", config, tuple(documents), tuple(inputs))


def _rows_impact(name: str, head: tuple[Path, ResolvedPack], base: tuple[Path, ResolvedPack],
                 config: tuple[ConfigChange, ...], cases: Callable[[], Sequence[Case]], *, head_load: PackLoader,
                 base_load: PackLoader, base_root: Path, live: LivePlans | None) -> ProfileImpact:
    """An edit of table rows only. Rows reach a plan through lookups alone, so the base is compiled to report
    its lookups: a case whose plan at the base looks none of the edited rows up plans the same now and is
    not planned again, and the profile now is compiled only when some case (or the live company) needs it.
    A lookup at compile time (a flow switched on by a row) counts for every case."""
    rows = _row_keys(base[1], head[1])
    lookups = _Lookups()
    try:
        before = Loaded(base[1].pack, base[1].profile, base[1], compile_pack(base[1], observe=lookups))
    except PasserelleError as exc:
        return _base_failed(name, head[0], head_load, exc)
    everywhere = lookups.reach(rows)
    documents: list[DocumentChange] = []
    inputs = []
    try:
        if everywhere:
            head_load.pipeline(head[0])
        for case in cases():
            inputs.append(case.name)
            lookups.clear()
            old = base_load.plan(with_profile(case, before, base_root.parent))
            if everywhere or lookups.reach(rows):
                after = head_load.pipeline(head[0])
                documents += diff_plans(old, head_load.plan(with_profile(case, after, case.display_root)), case.name)
        if live is not None:
            inputs.append("live")
            documents += diff_plans(*live(before, head_load.pipeline(head[0])), "live")
    except PasserelleError as exc:  # the profile now does not compile
        return ProfileImpact(name, "error", errors=exc.errors)
    return ProfileImpact(name, "changed", config, tuple(documents), tuple(inputs))


def _base_failed(name: str, head: Path, head_load: PackLoader, exc: PasserelleError) -> ProfileImpact:
    """The base did not compile: what it would have done is unknown (the profile must compile now)."""
    try:
        head_load.pipeline(head)
    except PasserelleError as now:
        return ProfileImpact(name, "error", errors=now.errors)
    return ProfileImpact(name, "changed", (ConfigChange("profile", "did not compile at the base", "error", "ok"),),
                         errors=tuple(replace(e, severity="warning") for e in exc.errors))


def pack_cases(pack_dir: Path, load: PackLoader) -> tuple[tuple[Case, ...], tuple[RuleError, ...]]:
    """A pack's cases as inputs (each loaded once for all its profiles) and the errors of those that cannot load."""
    from engine.packtest import discover_cases

    cases: list[Case] = []
    errors: list[RuleError] = []
    for folder in discover_cases(str(pack_dir), pack_dir.parent):
        try:
            cases.append(load_case(folder, load=load, pipeline=load.pipeline))
        except PasserelleError as exc:
            errors += exc.errors
    return tuple(cases), tuple(errors)


@dataclass(frozen=True)
class Impact:
    """Every profile's impact, against one base."""

    base: str
    profiles: tuple[ProfileImpact, ...]
    errors: tuple[RuleError, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(p.changed for p in self.profiles)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(p.status == "error" for p in self.profiles)

    @property
    def exit_code(self) -> int:
        """Like ``plan --detailed-exitcode``: 1 on an error, 2 when something changes, else 0."""
        return 1 if self.has_errors else 2 if self.has_changes else 0


def run_impact(profiles: Sequence[Path], rules: Path, base_root: Path, base: str, *, removed: Sequence[Path] = (),
               live: Callable[[Path], LivePlans] | None = None) -> Impact:
    """The impact on each profile file (under ``rules``) of the edit from ``base_root`` (the same folder at
    the base) to now; ``removed``: profile files of the base that are gone now. Cases are read once per
    pack; packs are built and profiles compiled once per side."""
    from engine.basetree import counterpart

    cases: dict[Path, tuple[Case, ...]] = {}
    errors: list[RuleError] = []
    out = []
    with PackLoader() as head_load, PackLoader() as base_load:

        def pack_inputs(pack_dir: Path) -> Callable[[], tuple[Case, ...]]:
            def read() -> tuple[Case, ...]:  # once per pack, when a profile of it is first planned
                if pack_dir not in cases:
                    cases[pack_dir], failed = pack_cases(pack_dir, head_load) if (pack_dir / "cases").is_dir() \
                        else ((), ())
                    errors.extend(failed)
                return cases[pack_dir]
            return read

        for path in profiles:
            pack_dir = path.resolve().parent.parent
            name = f"{pack_dir.name}/{path.stem}"
            try:
                other = counterpart(path, rules, base_root)
            except PasserelleError as exc:
                out.append(ProfileImpact(name, "error", errors=exc.errors))
                continue
            out.append(profile_impact(name, path, other, pack_inputs(pack_dir), head_load=head_load,
                                      base_load=base_load, base_root=base_root, live=live(path) if live else None))
    out += [ProfileImpact(f"{path.resolve().parent.parent.name}/{path.stem}", "removed") for path in removed]
    return Impact(base, tuple(out), tuple(errors))


# -- reporting --------------------------------------------------------------------------------------


def _document_lines(doc: DocumentChange) -> Iterator[str]:
    what = f"{doc.entity} {doc.label or doc.key}".rstrip()
    moved = doc.after if doc.after == doc.before else f"{doc.before} -> {doc.after}"
    reason = doc.reason_after if doc.after in ("skip", "error", "conflict") else None
    yield f"      {doc.sign} {what} ({doc.flow} {doc.key}): {moved}" + (f": {reason}" if reason else "")
    if doc.before in ("skip", "error", "conflict") and doc.reason_before and doc.reason_before != doc.reason_after:
        yield f"          was: {doc.reason_before}"
    for change in doc.fields:
        yield f"          {change.field}: {_show(change.before)} -> {_show(change.after)}"


def render_impact(impact: Impact) -> str:
    """For people: one line per profile, and under each changed one what changes and where."""
    changed = sum(1 for p in impact.profiles if p.changed)
    lines = [f"Impact of the edit since {impact.base}: {changed} of {len(impact.profiles)} profile(s) change", ""]
    for error in impact.errors:
        lines.append(error.format())
    for profile in impact.profiles:
        if profile.status == "unchanged":
            lines.append(f"  {profile.profile}: no change")
            continue
        if profile.status == "error":
            lines.append(f"x {profile.profile}: cannot be compiled")
            lines += ["    " + e.format().replace("\n", "\n    ") for e in profile.errors]
            continue
        if profile.status == "added":
            lines.append(f"+ {profile.profile}: new profile (not at the base); every document of its first sync is new")
            continue
        if profile.status == "removed":
            lines.append(f"- {profile.profile}: profile removed (at the base, gone now); its company is no longer "
                         "synced")
            continue
        docs = len(profile.documents)
        lines.append(f"~ {profile.profile}: {docs} document(s) planned differently in {len(profile.inputs)} input(s)")
        lines += [f"    {change.text}" for change in profile.config]
        lines += ["    " + e.format().replace("\n", "\n    ") for e in profile.errors]
        by_input: dict[str, list[DocumentChange]] = {}
        for doc in profile.documents:
            by_input.setdefault(doc.inputs, []).append(doc)
        for inputs, documents in by_input.items():
            lines.append(f"    {'live company' if inputs == 'live' else 'case ' + inputs}:")
            for doc in documents:
                lines += _document_lines(doc)
        if not docs:
            lines.append("    no document of the inputs changes (no case reaches what changed)")
    if not impact.has_changes and not impact.has_errors:
        lines += ["", "No changes."]
    return "\n".join(lines) + "\n"


def impact_to_json(impact: Impact) -> str:
    import json

    def error(e: RuleError) -> dict[str, Any]:
        return {"code": e.code, "message": e.message, "where": str(e.loc) if e.loc else None, "hint": e.hint,
                "severity": e.severity}

    data = {
        "version": 1, "base": impact.base, "exit_code": impact.exit_code, "errors": [error(e) for e in impact.errors],
        "profiles": [{
            "profile": p.profile, "status": p.status, "inputs": list(p.inputs), "errors": [error(e) for e in p.errors],
            "config": [to_plain(dataclasses.asdict(c)) for c in p.config],
            "documents": [to_plain(dataclasses.asdict(d)) for d in p.documents],
        } for p in impact.profiles],
    }
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n"


# -- cases: which expected plans an edit changes ------------------------------------------------------


@dataclass(frozen=True)
class CaseDelta:
    """A case's outputs (expected-file name -> text) planned with the base and with the current packs."""

    id: str
    before: Mapping[str, str]
    after: Mapping[str, str]
    note: str = ""
    errors: tuple[RuleError, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.errors) or dict(self.before) != dict(self.after)

    def diff(self) -> str:
        import difflib

        out = []
        for name, text in self.after.items():
            old = self.before.get(name, "")
            if old != text:
                lines = difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                             fromfile=f"{name} (base)", tofile=f"{name} (now)")
                out.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
        return "".join(out)


def case_delta(folder: Path, rules: Path, base_root: Path, head_load: PackLoader, base_load: PackLoader) -> CaseDelta:
    """What the edit does to one case's plan: its inputs planned with the profile at the base and now."""
    from engine.basetree import counterpart

    case_id = f"{folder.parent.parent.name}/{folder.name}"
    try:
        case = load_case(folder, load=head_load, pipeline=head_load.pipeline)
        after = head_load.outputs(case)
        if case.profile_file is None:
            return CaseDelta(case_id, after, after)
        other = counterpart(case.profile_file, rules, base_root)
        if not other.is_file():
            return CaseDelta(case_id, {}, after, note="its profile is new (not at the base)")
        before = base_load.outputs(with_profile(case, base_load.pipeline(other), base_root.parent))
    except PasserelleError as exc:
        return CaseDelta(case_id, {}, {}, errors=exc.errors)
    return CaseDelta(case_id, before, after)
