"""Build: validated documents to a frozen ``RulePack`` or ``Profile``.

A pack may span several files (``include``); their sections are merged here and a name defined
in two files is an error naming both places. CSV tables are read here too, relative to the file
that declares them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import Loc, PasserelleError, PathPart, RuleError
from engine.model import (
    Check,
    Child,
    ConstValue,
    EachValue,
    Endpoint,
    ExprValue,
    Flow,
    Gone,
    Guard,
    ListValue,
    LookupValue,
    Machine,
    Mods,
    ObjectValue,
    Operations,
    PackMeta,
    Profile,
    Refusal,
    RefValue,
    Row,
    RulePack,
    Schedule,
    Setting,
    Src,
    State,
    Table,
    TableChange,
    TableRef,
    TemplateValue,
    Transition,
    Trigger,
    Unique,
    ValueSpec,
)
from engine.model import Connection as ConnectionModel
from engine.source import DEFAULT_LIMITS, Document, load_file
from engine.validate import validate_document

__all__ = ["build_pack", "build_profile", "freeze", "load_pack_documents", "thaw"]

_SECTIONS = ("secrets", "connections", "settings", "tables", "flows", "machines", "checks")


def freeze(value: Any) -> Any:
    """Deep-freeze plain data: mappings become read-only, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of ``freeze``, for output (JSON, YAML)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class _Reader:
    """Read helpers bound to one document: locations and source snippets."""

    def __init__(self, doc: Document, root: Path | None = None) -> None:
        self.doc = doc
        self.base = Path(doc.file).parent
        self.root = root or self.base  # the pack's folder: files a document names must stay inside it

    def loc(self, path: tuple[PathPart, ...], key: bool = False) -> Loc:
        return self.doc.loc(path, key=key)

    def src(self, data: Mapping[str, Any], name: str, path: tuple[PathPart, ...]) -> Src | None:
        if name not in data or data[name] is None:
            return None
        return Src(str(data[name]), self.loc((*path, name)), (*path, name))


def inside_pack(root: Path, base: Path, name: str) -> Path | None:
    """``name`` (relative to ``base``) as a real path inside the pack's folder ``root``, or None.

    One rule for every file a pack names (includes, CSV tables): no absolute path, no ``..`` out, and
    no symlink that resolves outside. A refused file is never opened, so no message can show its content.
    """
    if Path(name).is_absolute():
        return None
    target = (base / name).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def load_pack_documents(main: Path) -> list[Document]:
    """Load a pack's main file and its includes, validating each; raises with every error found."""
    display = str(main)
    doc = load_file(main, display=display)
    errors = validate_document(doc)
    docs = [doc]
    if doc.data.get("kind") not in (None, "pack") and not errors:
        errors.append(RuleError("E110", f"expected a pack's main file (kind: pack), got kind {doc.data['kind']!r}",
                                doc.loc(("kind",)), ("kind",)))
    for index, include in enumerate(doc.data.get("include", []) if isinstance(doc.data.get("include"), list) else []):
        path = ("include", index)
        target = inside_pack(main.parent, main.parent, str(include))
        if target is None:
            errors.append(RuleError("E110", f"include {include!r} points outside the pack's folder", doc.loc(path), path))
            continue
        if not target.is_file():
            errors.append(RuleError("E110", f"included file {include!r} does not exist", doc.loc(path), path))
            continue
        try:
            part = load_file(target, display=str(main.parent / str(include)))
        except PasserelleError as exc:
            errors.extend(exc.errors)
            continue
        if part.data.get("kind") != "pack-part":
            # Said first and alone: schema errors of a file of the wrong kind would only confuse.
            errors.append(RuleError("E110", f"an included file must have kind: pack-part, not "
                                    f"{part.data.get('kind')!r}", part.loc(("kind",)), ("kind",),
                                    notes=(f"included from {doc.loc(path)}",)))
            continue
        part_errors = validate_document(part)
        errors.extend(part_errors)
        docs.append(part)
    if errors:
        raise PasserelleError(errors)
    return docs


def build_pack(docs: list[Document]) -> RulePack:
    """Merge validated pack documents into one frozen ``RulePack``."""
    errors: list[RuleError] = []
    root = Path(docs[0].file).parent
    main = _Reader(docs[0], root)
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for doc in docs:
        reader = _Reader(doc, root)
        for section in _SECTIONS:
            for name, body in (doc.data.get(section) or {}).items():
                if name in sections[section]:
                    first_reader, _ = sections[section][name]
                    first = first_reader.loc((section, name), key=True)
                    errors.append(RuleError("E301", f"{section[:-1] if section != 'secrets' else 'secret'} "
                                            f"{name!r} is defined twice (first at {first})",
                                            reader.loc((section, name), key=True), (section, name)))
                    continue
                sections[section][name] = (reader, body)
    meta_data = docs[0].data["pack"]
    meta = PackMeta(meta_data["name"], meta_data["version"], meta_data.get("title", meta_data["name"]),
                    meta_data.get("description", ""), main.loc(("pack",)))
    tables: dict[str, Table] = {}
    for name, (reader, body) in sections["tables"].items():
        table = _table(reader, name, body, errors)
        if table is not None:
            tables[name] = table
    pack = RulePack(
        meta=meta,
        root=Path(docs[0].file).parent,
        files=tuple(d.file for d in docs),
        secrets=MappingProxyType({n: r.loc(("secrets", n), key=True) for n, (r, _) in sections["secrets"].items()}),
        connections=MappingProxyType({n: _connection(r, n, b, ("connections", n))
                                      for n, (r, b) in sections["connections"].items()}),
        settings=MappingProxyType({n: _setting(r, n, b) for n, (r, b) in sections["settings"].items()}),
        tables=MappingProxyType(tables),
        flows=MappingProxyType({n: _flow(r, n, b) for n, (r, b) in sections["flows"].items()}),
        machines=MappingProxyType({n: _machine(r, n, b) for n, (r, b) in sections["machines"].items()}),
        checks=MappingProxyType({n: _check(r, n, b) for n, (r, b) in sections["checks"].items()}),
        schedule=_schedule(main, docs[0].data.get("schedule") or {}, ("schedule",)),
        allowed_hosts=_hosts(docs, "allowed_hosts"), private_hosts=_hosts(docs, "private_hosts"),
    )
    if errors:
        raise PasserelleError(errors)
    return pack


def _connection(reader: _Reader, name: str, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> ConnectionModel:
    return ConnectionModel(name, body["connector"], freeze(body), reader.loc(path, key=True), reader.base,
                           tuple(_secret_refs(reader, body, path)))


def _secret_refs(reader: _Reader, value: Any, path: tuple[PathPart, ...]) -> list[tuple[str, Loc]]:
    if isinstance(value, Mapping):
        if set(value) == {"secret"}:
            return [(str(value["secret"]), reader.loc((*path, "secret")))]
        return [ref for key, item in value.items() for ref in _secret_refs(reader, item, (*path, key))]
    if isinstance(value, list):
        return [ref for i, item in enumerate(value) for ref in _secret_refs(reader, item, (*path, i))]
    return []


def _setting(reader: _Reader, name: str, body: Mapping[str, Any]) -> Setting:
    def opt_tuple(key: str) -> tuple[Any, ...] | None:
        return tuple(body[key]) if key in body else None

    return Setting(
        name=name, type=body["type"], description=body["description"], loc=reader.loc(("settings", name), key=True),
        has_default="default" in body, default=freeze(body.get("default")), enum=opt_tuple("enum"),
        items=body.get("items"), items_enum=opt_tuple("items_enum"), minimum=body.get("minimum"),
        maximum=body.get("maximum"), pattern=body.get("pattern"), max_length=body.get("max_length"),
        choices_from=freeze(body["choices_from"]) if "choices_from" in body else None,
    )


_CONVERTERS: Mapping[str, Callable[[Any], Any]] = {
    "string": str,
    "integer": int,
    "decimal": lambda v: Decimal(str(v)),
    "boolean": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[str(v).strip().lower()],
    "object": lambda v: v,
}


def convert_cell(value: Any, value_type: str) -> Any:
    """Convert a table cell to the table's value type; raises ValueError with a reason."""
    if value is None:
        return None
    try:
        return freeze(_CONVERTERS[value_type](value))
    except (KeyError, ValueError, InvalidOperation, TypeError):
        raise ValueError(f"{value!r} is not a valid {value_type}") from None


def convert_key(key: Any, key_type: str) -> Any:
    if key_type == "integer":
        try:
            return int(str(key))
        except ValueError:
            raise ValueError(f"key {key!r} is not an integer") from None
    return str(key)


def _table(reader: _Reader, name: str, body: Mapping[str, Any], errors: list[RuleError]) -> Table | None:
    path: tuple[PathPart, ...] = ("tables", name)
    key_type, value_type = body.get("key_type", "string"), body.get("value_type", "string")
    rows: dict[Any, Row] = {}
    for raw_key, raw_value in (body.get("rows") or {}).items():
        row_path = (*path, "rows", raw_key)
        try:
            rows[convert_key(raw_key, key_type)] = Row(convert_cell(raw_value, value_type), reader.loc(row_path))
        except ValueError as exc:
            errors.append(RuleError("E302", f"table {name!r}: {exc}", reader.loc(row_path), row_path))
    if "csv" in body:
        _csv_rows(reader, name, body, rows, errors)
    keys = None
    if "keys" in body:
        try:
            keys = tuple(convert_key(k, key_type) for k in body["keys"])
        except ValueError as exc:
            errors.append(RuleError("E302", f"table {name!r}: {exc}", reader.loc((*path, "keys")), (*path, "keys")))
    default = body.get("default")
    if default is not None:
        try:
            default = convert_cell(default, value_type)
        except ValueError as exc:
            errors.append(RuleError("E302", f"table {name!r} default: {exc}", reader.loc((*path, "default")),
                                    (*path, "default")))
    refers = body.get("refers_to")
    refers_to = None if refers is None else TableRef(
        entity=refers["entity"], by=refers.get("by", "Name"), loc=reader.loc((*path, "refers_to")), type=refers.get("type"),
        also_by=tuple(str(f) for f in refers.get("also_by") or ()))
    return Table(name=name, description=body["description"], key_type=key_type, value_type=value_type,
                 on_missing=body.get("on_missing", "error"), default=default, rows=MappingProxyType(rows),
                 loc=reader.loc(path, key=True), keys=keys, refers_to=refers_to)


def _csv_rows(reader: _Reader, name: str, body: Mapping[str, Any], rows: dict[Any, Row],
              errors: list[RuleError]) -> None:
    path: tuple[PathPart, ...] = ("tables", name, "csv")
    display = str(reader.base / str(body["csv"]))
    target = inside_pack(reader.root, reader.base, str(body["csv"]))
    if target is None:
        errors.append(RuleError("E110", f"table {name!r}: csv {body['csv']!r} points outside the pack's folder",
                                reader.loc(path), path, hint="CSV tables live inside the pack, like included files"))
        return
    try:
        if target.exists() and not target.is_file():
            raise OSError(0, "not a regular file")
        if target.stat().st_size > DEFAULT_LIMITS.max_bytes:
            raise OSError(0, f"over the {DEFAULT_LIMITS.max_bytes}-byte limit for pack files")
        text = target.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(RuleError("E303", f"table {name!r}: cannot read CSV {body['csv']!r}: "
                                f"{getattr(exc, 'strerror', None) or exc}", reader.loc(path), path))
        return
    parsed = csv.DictReader(io.StringIO(text))
    fields = parsed.fieldnames or []
    if "key" not in fields or (len(fields) < 2):
        header = text.splitlines()[0] if text else ""
        other = next((sep for sep in (";", "\t", "|") if sep in header), None)
        hint = (f"the header looks separated by {other!r}: separate columns with commas" if other
                else "the first line must be `key,value`")
        errors.append(RuleError("E303", f"CSV file needs a header row with `key` and `value` (or value fields), "
                                f"got {fields!r}", Loc(display, 1, 1), hint=hint))
        return
    value_type = body.get("value_type", "string")
    for line_no, record in enumerate(parsed, start=2):
        loc = Loc(display, line_no, 1)
        raw_value: Any = record.get("value") if "value" in fields else {k: v for k, v in record.items() if k != "key"}
        try:
            key = convert_key(record["key"], body.get("key_type", "string"))
            value = convert_cell(raw_value, value_type)
        except ValueError as exc:
            errors.append(RuleError("E302", f"table {name!r}: {exc}", loc))
            continue
        if key in rows:
            errors.append(RuleError("E302", f"table {name!r}: key {key!r} is defined twice (first at {rows[key].loc})",
                                    loc))
            continue
        rows[key] = Row(value, loc)


def _mods(reader: _Reader, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> Mods:
    return Mods(when=reader.src(body, "when", path), type=body.get("type"), round=body.get("round"),
                description=body.get("description"))


def value_spec(reader: _Reader, body: Any, path: tuple[PathPart, ...]) -> ValueSpec:
    """A mapped value, from its YAML form (string = expression, scalar = constant, object = node)."""
    loc = reader.loc(path)
    if isinstance(body, str):
        return ExprValue(Src(body, loc, path))
    if not isinstance(body, Mapping):
        return ConstValue(freeze(body), loc, path)
    mods = _mods(reader, body, path)
    for kind, builder in _VALUE_BUILDERS.items():
        if kind in body:
            return builder(reader, body, path, mods)
    raise AssertionError("validated value without a kind")  # schema guarantees one kind


def _v_expr(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    return ExprValue(Src(str(b["expr"]), r.loc((*p, "expr")), (*p, "expr")), m)


def _v_template(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    return TemplateValue(Src(str(b["template"]), r.loc((*p, "template")), (*p, "template")), m)


def _v_const(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    return ConstValue(freeze(b["const"]), r.loc((*p, "const")), p, m)


def _v_lookup(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    lp = (*p, "lookup")
    return LookupValue(b["lookup"]["table"], Src(str(b["lookup"]["key"]), r.loc((*lp, "key")), (*lp, "key")),
                       r.loc((*lp, "table")), lp, m)


def _v_ref(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    rp = (*p, "ref")
    ref = b["ref"]
    create = ref.get("create")
    return RefValue(
        loc=r.loc(rp), path=rp, entity=ref.get("entity"), by=ref.get("by", "Id" if "flow" in ref else "Name"),
        value=r.src(ref, "value", rp), flow=ref.get("flow"), key=r.src(ref, "key", rp),
        on_missing=ref.get("on_missing", "error"),
        create_when=r.src(create, "when", (*rp, "create")) if create else None,
        create=_object(r, create["fields"], (*rp, "create", "fields")) if create else None,
        shape=ref.get("shape", "ref"), field=ref.get("field"), by_loc=r.loc((*rp, "by")),
        connection=ref.get("connection"), also_by=tuple(str(f) for f in ref.get("also_by") or ()), mods=m,
    )


def _object(r: _Reader, fields: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods | None = None) -> ObjectValue:
    return ObjectValue(tuple((k, value_spec(r, v, (*p, k))) for k, v in fields.items()), r.loc(p), p, m or Mods())


def _v_object(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    return _object(r, b["object"], (*p, "object"), m)


def _v_each(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    each = Src(str(b["each"]), r.loc((*p, "each")), (*p, "each"))
    return EachValue(each, b.get("as", "item"), r.src(b, "where", p), value_spec(r, b["map"], (*p, "map")),
                     r.loc(p), p, m)


def _v_list(r: _Reader, b: Mapping[str, Any], p: tuple[PathPart, ...], m: Mods) -> ValueSpec:
    return ListValue(tuple(value_spec(r, v, (*p, "list", i)) for i, v in enumerate(b["list"])), r.loc(p), p, m)


_VALUE_BUILDERS: Mapping[str, Callable[[_Reader, Mapping[str, Any], tuple[PathPart, ...], Mods], ValueSpec]] = {
    "expr": _v_expr, "template": _v_template, "const": _v_const, "lookup": _v_lookup, "ref": _v_ref,
    "object": _v_object, "each": _v_each, "list": _v_list,
}


def _endpoint(reader: _Reader, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> Endpoint:
    return Endpoint(body["connection"], body["entity"], reader.loc(path), reader.src(body, "entity_expr", path),
                    tuple(body.get("entities", ())))


def _flow(reader: _Reader, name: str, body: Mapping[str, Any]) -> Flow:
    path: tuple[PathPart, ...] = ("flows", name)
    ops = body.get("operations") or {}
    ops_path = (*path, "operations")
    unique = body.get("unique")
    return Flow(
        name=name, loc=reader.loc(path, key=True), description=body.get("description", ""),
        source=_endpoint(reader, body["from"], (*path, "from")), target=_endpoint(reader, body["to"], (*path, "to")),
        key=Src(str(body["key"]), reader.loc((*path, "key")), (*path, "key")),
        fields=_object(reader, body["fields"], (*path, "fields")),
        enabled=reader.src(body, "enabled", path), when=reader.src(body, "when", path),
        skip_reason=reader.src(body, "skip_reason", path), date=reader.src(body, "date", path),
        depends_on=tuple(body.get("depends_on", ())),
        match=tuple((f, Src(str(e), reader.loc((*path, "match", f)), (*path, "match", f)))
                    for f, e in (body.get("match") or {}).items()),
        unique=Unique(Src(str(unique["key"]), reader.loc((*path, "unique", "key")), (*path, "unique", "key")),
                      unique.get("action", "report")) if unique else None,
        vars=tuple((k, value_spec(reader, v, (*path, "vars", k))) for k, v in (body.get("vars") or {}).items()),
        operations=Operations(
            create=ops.get("create", True), update=ops.get("update", True),
            void_when=reader.src(ops, "void_when", ops_path), delete_when=reader.src(ops, "delete_when", ops_path),
            owned_fields=tuple(ops["owned_fields"]) if "owned_fields" in ops else None,
        ),
        children=tuple(_child(reader, c, (*path, "children", i)) for i, c in enumerate(body.get("children", ()))),
        target_id=reader.src(body, "target_id", path),
        gone=_gone(reader, body["gone"], (*path, "gone")) if body.get("gone") else None,
        refusals=tuple(Refusal(str(r["hint"]), None if r.get("code") is None else str(r["code"]), r.get("contains"))
                       for r in body.get("refusals", ())),
        guard=Guard(str(body["guard"]["machine"]), str(body["guard"]["field"]), reader.loc((*path, "guard")),
                    reader.loc((*path, "guard", "machine")), reader.loc((*path, "guard", "field")))
        if body.get("guard") else None,
    )


def _gone(reader: _Reader, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> Gone:
    fields = _object(reader, body["fields"], (*path, "fields")) if body.get("fields") else None
    return Gone(reader.loc(path), fields, body.get("action"), body.get("description", ""))


def _child(reader: _Reader, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> Child:
    return Child(kind=body["kind"], loc=reader.loc(path), when=reader.src(body, "when", path),
                 each=reader.src(body, "each", path), name=body.get("as", "item"), url=reader.src(body, "url", path),
                 file_name=reader.src(body, "file_name", path), content_type=body.get("content_type"))


def _machine(reader: _Reader, name: str, body: Mapping[str, Any]) -> Machine:
    path: tuple[PathPart, ...] = ("machines", name)
    states = {
        state: State(state, reader.loc((*path, "states", state), key=True), bool((spec or {}).get("final", False)),
                     tuple((spec or {}).get("run", ())), (spec or {}).get("description", ""))
        for state, spec in body["states"].items()
    }
    transitions = []
    for i, t in enumerate(body.get("transitions", ())):
        tp = (*path, "transitions", i)
        sources = (t["from"],) if isinstance(t["from"], str) else tuple(t["from"])
        transitions.append(Transition(t["trigger"], sources, t["to"], reader.loc(tp), reader.src(t, "when", tp)))
    triggers = []
    for i, t in enumerate(body.get("triggers", ())):
        tp = (*path, "triggers", i)
        kind = next(k for k in ("on", "schedule", "manual") if k in t)
        triggers.append(Trigger(kind, str(t[kind]), reader.loc(tp), reader.src(t, "when", tp), t.get("fire"),
                                reader.src(t, "goto", tp), tuple(t["from"]) if "from" in t else None,
                                tuple(t.get("run", ()))))
    records = body.get("records")
    return Machine(
        name=name, initial=body["initial"], states=MappingProxyType(states), transitions=tuple(transitions),
        triggers=tuple(triggers), loc=reader.loc(path, key=True), description=body.get("description", ""),
        records=_endpoint(reader, records, (*path, "records")) if records else None,
        state_field=body.get("state_field"), initial_loc=reader.loc((*path, "initial")),
    )


def _check(reader: _Reader, name: str, body: Mapping[str, Any]) -> Check:
    path: tuple[PathPart, ...] = ("checks", name)
    fix = body.get("fix")
    return Check(
        name=name, kind=body["kind"], message=Src(str(body["message"]), reader.loc((*path, "message")),
                                                  (*path, "message")),
        loc=reader.loc(path, key=True), description=body.get("description", ""), when=reader.src(body, "when", path),
        entity=body.get("entity"),
        where=tuple((f, Src(str(e), reader.loc((*path, "where", f)), (*path, "where", f)))
                    for f, e in (body.get("where") or {}).items()),
        preference=body.get("preference"), expect=reader.src(body, "expect", path),
        hint=reader.src(body, "hint", path), blocking=body.get("blocking", True),
        fix_create=fix["create"] if fix else None,
        fix_fields=_object(reader, fix.get("fields") or {}, (*path, "fix", "fields")) if fix else None,
    )


def _hosts(docs: list[Document], key: str) -> tuple[str, ...]:
    """A host list from every document that declares it, lower-cased, in order, without repeats."""
    return tuple(dict.fromkeys(str(host).lower() for doc in docs for host in doc.data.get(key) or ()))


def _schedule(reader: _Reader, body: Mapping[str, Any], path: tuple[PathPart, ...]) -> Schedule:
    return Schedule(every=body.get("every"), start_date=body.get("start_date"),
                    start_date_setting=body.get("start_date_setting"), suspended_until=body.get("suspended_until"),
                    first_sync=body.get("first_sync"), loc=reader.loc(path))


def build_profile(doc: Document) -> Profile:
    """A validated profile document to a frozen ``Profile``."""
    reader = _Reader(doc)
    data = doc.data
    tables = {}
    for name, change in (data.get("tables") or {}).items():
        tp: tuple[PathPart, ...] = ("tables", name)
        tables[name] = TableChange(
            table=name, loc=reader.loc(tp, key=True),
            add=MappingProxyType({k: Row(freeze(v), reader.loc((*tp, "add", k)))
                                  for k, v in (change.get("add") or {}).items()}),
            replace=MappingProxyType({k: Row(freeze(v), reader.loc((*tp, "replace", k)))
                                      for k, v in (change.get("replace") or {}).items()}),
            remove=tuple((k, reader.loc((*tp, "remove", i))) for i, k in enumerate(change.get("remove") or ())),
            on_missing=change.get("on_missing"), default=freeze(change.get("default")),
            has_default="default" in change,
        )
    return Profile(
        name=data["profile"]["name"], pack_ref=data["pack"], file=doc.file, loc=reader.loc(("profile",), key=True),
        pack_ref_loc=reader.loc(("pack",)), description=data["profile"].get("description", ""),
        enabled=data.get("enabled", True),
        settings=MappingProxyType({k: Row(freeze(v), reader.loc(("settings", k)))
                                   for k, v in (data.get("settings") or {}).items()}),
        tables=MappingProxyType(tables),
        secrets=MappingProxyType({k: Row(v["env"], reader.loc(("secrets", k)))
                                  for k, v in (data.get("secrets") or {}).items()}),
        connections=MappingProxyType({n: _connection(reader, n, b, ("connections", n))
                                      for n, b in (data.get("connections") or {}).items()}),
        schedule=_schedule(reader, data.get("schedule") or {}, ("schedule",)),
        allowed_hosts=_hosts([doc], "allowed_hosts"), private_hosts=_hosts([doc], "private_hosts"),
    )
