"""Rule-pack cases: a pack's behaviour pinned by plans computed offline and compared with stored ones.

A case is a folder ``<pack>/cases/<case>/`` holding its inputs as data (``case.yaml``, product
records, the QBO company's reference data, optionally a ledger) and the plan it must produce
(``expected.txt``, optionally ``expected.json``), so a reviewer reads a case in one place and a
change in a pack shows up as a diff of plans. Cases run through the real planner with an
in-memory target and sources: no network, no state file, no clock (``today`` and ``created_at``
are fixed, the fingerprint is a hash of the reference data). The format is described in
``docs/cases.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.context import ReferenceData, StaticReferenceData
from engine.errors import Loc, PasserelleError, RuleError
from engine.model import RulePack
from engine.pipeline import Loaded, load_pack, run_pipeline
from engine.resources import rules_dir
from engine.runtime.canonical import payload_hash
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Change, Plan, PlanOptions, make_plan
from engine.runtime.ports import LedgerEntry
from engine.runtime.render import plan_to_json, render_text
from engine.source import load_file
from engine.store import Store, open_store

__all__ = [
    "CASE_FILE", "EXPECTED_FILES", "Case", "CaseResult", "FileResult", "MemoryTarget", "RecordSource",
    "case_outputs", "discover_cases", "find_pack", "load_case", "plan_case", "run_case", "run_cases", "with_profile",
]

CASE_FILE = "case.yaml"
EXPECTED_FILES: Mapping[str, str] = {"text": "expected.txt", "json": "expected.json"}
_CASE_KEYS = ("description", "profile", "today", "created_at", "suspended_until", "record", "manual", "expect")
_LEDGER_KEYS = ("flow", "key", "entity", "id", "sync_token", "fields", "payload_hash", "state")
_QBO_CONNECTOR = "qbo"
_PLANS = itertools.count()  # ledger keys of plans sharing one store


def _fail(code: str, message: str, where: Path | Loc, hint: str | None = None) -> PasserelleError:
    loc = where if isinstance(where, Loc) else Loc(str(where))
    return PasserelleError([RuleError(code, message, loc, hint=hint)])


# -- the offline world a case plans against ---------------------------------------------------------


class MemoryTarget:
    """The QBO company of a case: reference data and existing documents, read from ``reference.json``."""

    def __init__(self, records: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.records = {entity: list(rows) for entity, rows in records.items()}
        self._refs = StaticReferenceData(self.records)

    def reference_data(self) -> ReferenceData:
        return self._refs

    def get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None:
        return next((r for r in self.records.get(entity, ()) if str(r.get("Id")) == str(entity_id)), None)

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The first record whose fields equal ``criteria``, compared as text as a QBO query does."""
        for record in self.records.get(entity, ()):
            if all(str(record.get(name)) == str(value) for name, value in criteria.items()):
                return record
        return None

    def fingerprint(self) -> str:
        """A hash of every record's entity, Id and SyncToken: stable for a given reference.json."""
        digest = hashlib.sha256()
        for entity in sorted(self.records):
            for record in sorted(self.records[entity], key=lambda r: str(r.get("Id"))):
                digest.update(f"{entity}:{record.get('Id')}:{record.get('SyncToken')}\n".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RecordSource:
    """One connection's records, per resource, read from the case folder (a missing resource has none)."""

    resources: Mapping[str, tuple[Mapping[str, Any], ...]]

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        yield from self.resources.get(resource, ())


# -- the case ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One case folder, read and checked; planning it needs nothing else."""

    pack: str
    name: str
    folder: Path
    description: str
    loaded: Loaded
    options: PlanOptions
    created_at: str
    expect: tuple[str, ...]
    reference: Mapping[str, tuple[Mapping[str, Any], ...]]
    sources: Mapping[str, RecordSource]
    ledger: tuple[LedgerEntry, ...] = ()
    display_root: Path = field(default_factory=lambda: rules_dir().parent)
    files: Mapping[str, Mapping[str, tuple[Mapping[str, Any], ...]]] = field(default_factory=dict)
    profile_file: Path | None = None  # the profile's file (None: a case of a pack alone)

    @property
    def id(self) -> str:
        return f"{self.pack}/{self.name}"


def find_pack(spec: str, rules: Path | None = None) -> Path:
    """A pack folder: a path to one, or a pack name under ``rules``."""
    path = Path(spec)
    if (path / "pack.yaml").is_file():
        return path.resolve()
    root = rules or rules_dir()
    if (root / spec / "pack.yaml").is_file():
        return (root / spec).resolve()
    packs = ", ".join(sorted(p.name for p in root.iterdir() if (p / "pack.yaml").is_file())) if root.is_dir() else ""
    raise _fail("E140", f"pack {spec!r} not found", root, hint=f"packs in {root}: {packs or 'none'}")


def discover_cases(pack: str | None = None, rules: Path | None = None) -> list[Path]:
    """Case folders (every folder under ``<pack>/cases/``), in a stable order: one pack or all of them."""
    root = rules or rules_dir()
    if pack is not None:
        packs = [find_pack(pack, root)]
    else:
        packs = sorted(p.resolve() for p in root.iterdir() if (p / "pack.yaml").is_file()) if root.is_dir() else []
    found: list[Path] = []
    for folder in packs:
        cases = folder / "cases"
        if cases.is_dir():
            found += sorted(p for p in cases.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return found


def _json(path: Path, rel: Path) -> Any:
    display = str(path.relative_to(rel)) if path.is_relative_to(rel) else str(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise _fail("E141", f"cannot read: {exc.strerror or exc}", Path(display)) from None
    except UnicodeDecodeError:
        raise _fail("E142", "not UTF-8 text", Path(display)) from None
    except json.JSONDecodeError as exc:
        raise _fail("E142", f"invalid JSON: {exc.msg}", Loc(display, exc.lineno, exc.colno)) from None


def _records(data: Any, where: Path, what: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise _fail("E143", f"expected a JSON list of {what} (objects)", where)
    return tuple(data)


def _profile_path(spec: Any, folder: Path, pack_dir: Path, doc_loc: Loc) -> Path:
    if not isinstance(spec, str) or not spec:
        raise _fail("E143", "`profile` is required: a path relative to the case folder, or PACK/CUSTOMER", doc_loc)
    if spec.endswith((".yaml", ".yml")):
        path = folder / spec
    elif spec.count("/") == 1:
        pack, customer = spec.split("/")
        path = pack_dir.parent / pack / "customers" / f"{customer}.yaml"
    else:
        raise _fail("E143", f"profile {spec!r} is neither a .yaml path nor PACK/CUSTOMER", doc_loc)
    if not path.is_file():
        raise _fail("E144", f"profile {spec!r} not found ({path} does not exist)", doc_loc)
    return path


def _text(data: Mapping[str, Any], key: str, doc: Any, default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise _fail("E143", f"`{key}` must be text (quote dates: \"2024-06-01\")", doc.loc((key,)))
    return value


def load_case(folder: Path, *, load: Callable[[Path], RulePack] = load_pack,
              pipeline: Callable[[Path], Loaded] | None = None) -> Case:
    """Read and check a case folder; a missing or malformed file is a ``PasserelleError`` naming it.
    ``load`` builds the pack from its folder, ``pipeline`` compiles the case's profile (callers planning
    many cases pass ones that reuse what they built)."""
    folder = folder.resolve()
    pack_dir = folder.parent.parent
    rel = pack_dir.parent.parent  # paths are shown from the folder holding rules/, as in a checkout
    case_file = folder / CASE_FILE
    if not case_file.is_file():
        raise _fail("E141", f"case folder has no {CASE_FILE}", folder.relative_to(rel),
                    hint="see docs/cases.md for the files of a case")
    doc = load_file(case_file, display=str(case_file.relative_to(rel)))
    data = doc.data
    if not isinstance(data, Mapping):
        raise _fail("E143", "case.yaml must be a mapping", doc.loc())
    for key in data:
        if key not in _CASE_KEYS:
            raise _fail("E143", f"unknown key {key!r} in case.yaml", doc.loc((key,), key=True),
                        hint=f"known keys: {', '.join(_CASE_KEYS)}")
    profile_file = _profile_path(data.get("profile"), folder, pack_dir, doc.loc(("profile",)))
    loaded = pipeline(profile_file) if pipeline is not None else run_pipeline(profile_file, load)
    meta = load_file(pack_dir / "pack.yaml").data.get("pack")
    pack_name = meta.get("name") if isinstance(meta, Mapping) else None
    if loaded.pack.meta.name != pack_name:
        raise _fail("E144", f"the profile is for pack {loaded.pack.meta.name!r}, this case belongs to {pack_name!r}",
                    doc.loc(("profile",)))
    today = _text(data, "today", doc)
    if today is None:
        raise _fail("E143", "`today` is required (the date the plan is computed on, e.g. \"2024-06-01\")", doc.loc())
    expect = data.get("expect", ["text"])
    if not isinstance(expect, list) or not expect or any(e not in EXPECTED_FILES for e in expect):
        raise _fail("E143", f"`expect` lists some of: {', '.join(EXPECTED_FILES)}", doc.loc(("expect",)))
    options = PlanOptions(today=today, suspended_until=_text(data, "suspended_until", doc),
                          record=_text(data, "record", doc), manual=bool(data.get("manual", False)))
    files = _source_files(folder, rel, loaded)
    return Case(pack=pack_dir.name, name=folder.name, folder=folder, description=_text(data, "description", doc) or "",
                loaded=loaded, options=options, created_at=_text(data, "created_at", doc, f"{today}T00:00:00+00:00") or "",
                expect=tuple(dict.fromkeys(expect)), reference=_reference(folder, rel),
                sources=_sources_for(files, loaded), ledger=_ledger(folder, rel, loaded), display_root=rel,
                files=files, profile_file=profile_file.resolve())


def with_profile(case: Case, loaded: Loaded, display_root: Path | None = None) -> Case:
    """The same inputs (records, company, ledger, date) planned with another compiled profile: another
    customer of the pack, or the pack as it was before an edit (``passerelle impact``, ``test --base``).
    ``display_root`` is the folder holding that pack's ``rules/``, to show rule locations from."""
    return replace(case, loaded=loaded, sources=_sources_for(case.files, loaded),
                   display_root=display_root or case.display_root)


def _reference(folder: Path, rel: Path) -> dict[str, tuple[Mapping[str, Any], ...]]:
    path = folder / "reference.json"
    where = path.relative_to(rel)
    if not path.is_file():
        raise _fail("E141", "missing: the QBO company's reference data, {Entity: [records]}", where)
    data = _json(path, rel)
    if not isinstance(data, dict):
        raise _fail("E143", "expected a JSON object {Entity: [records]}", where)
    out: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for entity, rows in data.items():
        out[entity] = _records(rows, where, f"{entity} records")
        for number, row in enumerate(out[entity]):
            if "Id" not in row:
                raise _fail("E143", f"{entity}[{number}] has no Id", where)
    return out


def _source_files(folder: Path, rel: Path, loaded: Loaded) -> dict[str, dict[str, tuple[Mapping[str, Any], ...]]]:
    """records/<resource>.json (product side) and qbo/<Entity>.json (QBO side), checked against what the
    profile's flows read."""
    connections = loaded.resolved.connections
    read: dict[str, set[str]] = {"records": set(), "qbo": set()}
    for flow in loaded.compiled.flows.values():
        conn = connections.get(flow.flow.source.connection)
        kind = "qbo" if conn is not None and conn.connector == _QBO_CONNECTOR else "records"
        read[kind].add(flow.flow.source.entity)
    files: dict[str, dict[str, tuple[Mapping[str, Any], ...]]] = {"records": {}, "qbo": {}}
    for kind, names in read.items():
        sub = folder / kind
        if not sub.is_dir():
            continue
        for path in sorted(sub.iterdir()):
            if path.suffix != ".json" or path.stem not in names:
                known = ", ".join(f"{kind}/{n}.json" for n in sorted(names)) or "none"
                raise _fail("E143", "no flow of the pack reads this file", path.relative_to(rel),
                            hint=f"files this pack reads: {known}")
            files[kind][path.stem] = _records(_json(path, rel), path.relative_to(rel), "records")
    return files


def _sources_for(files: Mapping[str, Mapping[str, tuple[Mapping[str, Any], ...]]],
                 loaded: Loaded) -> dict[str, RecordSource]:
    """records/ feeds product-side connections; qbo/ feeds QBO-side ones."""
    return {name: RecordSource(files.get("qbo" if conn.connector == _QBO_CONNECTOR else "records", {}))
            for name, conn in loaded.resolved.connections.items()}


def _ledger(folder: Path, rel: Path, loaded: Loaded) -> tuple[LedgerEntry, ...]:
    path = folder / "ledger.json"
    if not path.is_file():
        return ()
    where = path.relative_to(rel)
    entries = []
    for number, row in enumerate(_records(_json(path, rel), where, "ledger entries")):
        unknown = sorted(set(row) - set(_LEDGER_KEYS))
        missing = [k for k in ("flow", "key", "entity", "id") if k not in row]
        if unknown or missing:
            problem = f"unknown key(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
            raise _fail("E143", f"entry {number}: {problem}", where, hint=f"an entry has: {', '.join(_LEDGER_KEYS)}")
        if row["flow"] not in loaded.compiled.flows:
            raise _fail("E143", f"entry {number}: the pack has no flow {row['flow']!r}", where)
        fields = row.get("fields") or {}
        digest = row.get("payload_hash") or (payload_hash({"payload": fields, "entity": row["entity"]})
                                             if fields else None)
        token = row.get("sync_token")
        entries.append(LedgerEntry(flow=row["flow"], source_key=str(row["key"]), target_entity=row["entity"],
                                   target_id=str(row["id"]), sync_token=None if token is None else str(token),
                                   payload_hash=digest, fields=fields, state=row.get("state")))
    return tuple(entries)


# -- running ----------------------------------------------------------------------------------------


def plan_case(case: Case, store: Store | None = None) -> Plan:
    """The case's plan from the real planner, with a ledger in an in-memory state store. Callers planning
    many cases pass one ``store`` (migrating a store costs more than a plan); each plan then keeps its
    ledger under a key of its own."""
    db = store or open_store("sqlite://")
    try:
        profile = case.loaded.profile.name if case.loaded.profile else case.loaded.pack.meta.name
        key = profile if store is None else f"{profile}#{next(_PLANS)}"
        ledger = StoreLedger(db, key)
        with db.engine.begin() as conn:
            for entry in case.ledger:
                ledger.record(entry, conn)
        plan = make_plan(case.loaded, MemoryTarget(case.reference), case.sources, StoreLedger(db, key), case.options)
    finally:
        if store is None:
            db.dispose()
    return replace(plan, created_at=case.created_at, changes=tuple(_relative(c, case.display_root) for c in plan.changes))


def _relative(change: Change, root: Path) -> Change:
    """Rule locations in record errors shown from the folder holding rules/, so expectations hold on any machine."""
    if change.error is None:
        return change
    prefix = f"{root}/"
    error = {k: v.replace(prefix, "") if isinstance(v, str) else v for k, v in change.error.items()}
    return replace(change, error=error, reason=change.reason.replace(prefix, "") if change.reason else change.reason)


def case_outputs(case: Case, store: Store | None = None) -> dict[str, str]:
    """Expected-file name -> what this case produces now (``store``: as for ``plan_case``)."""
    plan = plan_case(case, store)
    render = {"text": lambda: render_text(plan), "json": lambda: plan_to_json(plan)}
    return {EXPECTED_FILES[kind]: render[kind]() for kind in case.expect}


@dataclass(frozen=True)
class FileResult:
    """One expected file compared with what the case produces."""

    path: Path
    actual: str
    expected: str | None

    @property
    def ok(self) -> bool:
        return self.actual == self.expected

    def diff(self) -> str:
        if self.expected is None:
            return f"{self.path.name} does not exist yet: run with --update, then review it\n"
        lines = difflib.unified_diff(self.expected.splitlines(keepends=True), self.actual.splitlines(keepends=True),
                                     fromfile=f"{self.path.name} (expected)", tofile=f"{self.path.name} (actual)")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class CaseResult:
    """A case's outcome: its files compared, or the errors that kept it from running."""

    id: str
    folder: Path
    files: tuple[FileResult, ...] = ()
    errors: tuple[RuleError, ...] = ()
    updated: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and all(f.ok for f in self.files)

    def diff(self) -> str:
        return "".join(f.diff() for f in self.files if not f.ok)


def _read(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def run_case(folder: Path, *, update: bool = False) -> CaseResult:
    """Plan one case and compare with (or, with ``update``, rewrite) its expected files."""
    folder = folder.resolve()
    case_id = f"{folder.parent.parent.name}/{folder.name}"
    try:
        case = load_case(folder)
        outputs = case_outputs(case)
    except PasserelleError as exc:
        return CaseResult(case_id, folder, errors=exc.errors)
    stray = [name for name in EXPECTED_FILES.values() if name not in outputs and (folder / name).is_file()]
    if stray:
        error = RuleError("E145", f"{stray[0]} is not produced by this case", Loc(f"{case_id}/{CASE_FILE}"),
                          hint=f"add it to `expect:` in {CASE_FILE}, or delete the file")
        return CaseResult(case_id, folder, errors=(error,))
    files = tuple(FileResult(folder / name, text, _read(folder / name)) for name, text in outputs.items())
    if not update:
        return CaseResult(case_id, folder, files)
    written = []
    for result in files:
        if not result.ok:
            with result.path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(result.actual)
            written.append(result.path)
    return CaseResult(case_id, folder, tuple(FileResult(f.path, f.actual, f.actual) for f in files), updated=tuple(written))


def run_cases(pack: str | None = None, *, update: bool = False, rules: Path | None = None) -> list[CaseResult]:
    """Every case of one pack (or of every pack under ``rules``), in order."""
    return [run_case(folder, update=update) for folder in discover_cases(pack, rules)]
