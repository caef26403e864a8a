"""Compile: a resolved pack to callables — every expression and template parsed and checked once.

Mapped values compile through a registry keyed by their spec type; each compiled value is a
function of one ``scope`` dict (record, settings, vars, loop names, and the evaluation context
under ``__ctx``). That closure tree serves `explain` (which traces each field); a flow's vars and
fields are also generated as one Python function (engine.fused, ``CompiledFlow.body``), which
plain evaluation runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from engine.context import OMIT, EvalContext, PendingCreate, TraceEntry
from engine.errors import PasserelleError, RuleError
from engine.expressions import CompiledExpr, ExprEnv, Skip, compile_expr
from engine.functions import EvalFailure, date, round_money, to_decimal
from engine.fused import Call, Const, Each, Expr, Listed, Lookup, Node, Obj, Ref, each_items, fuse
from engine.guards import guard_errors
from engine.machines import CompiledMachine, compile_machine
from engine.model import (
    Check,
    ConstValue,
    EachValue,
    ExprValue,
    Flow,
    ListValue,
    LookupValue,
    Mods,
    ObjectValue,
    RefValue,
    Src,
    Table,
    TemplateValue,
    ValueSpec,
)
from engine.resolve import ResolvedPack
from engine.templates import CompiledTemplate, compile_template

__all__ = ["CompiledCheck", "CompiledFlow", "CompiledPack", "CompiledValue", "TableObserver", "compile_pack"]

Run = Callable[[Any], Any]  # scope dict -> value
# Names every flow expression may read: the record, settings, vars, the run's date (`now`), the record's
# machine state, whether this is a manual one-record sync (`manual`), and, for flows with `unique`, the
# key of the earlier record this one duplicates (`duplicate_of`, else null).
FLOW_NAMES = frozenset({"record", "settings", "vars", "now", "state", "manual", "duplicate_of"})
SETTINGS_ONLY = frozenset({"settings"})
TableObserver = Callable[[str, Any], None]  # (table, key) of each lookup


@dataclass(frozen=True)
class CompiledValue:
    run: Run
    when: CompiledExpr | None
    spec: ValueSpec
    detail: str
    node: Node  # what engine.fused generates for it (conversion and `when` aside)
    conv: Callable[[Any], Any] | None = None  # the `type`/`round` conversion `run` applies, value -> value


@dataclass(frozen=True)
class CompiledChild:
    kind: str
    when: CompiledExpr | None
    each: CompiledExpr | None
    name: str
    url: CompiledTemplate | None
    file_name: CompiledTemplate | None
    content_type: str | None


@dataclass(frozen=True)
class CompiledFlow:
    flow: Flow
    enabled: bool
    entity: str
    key: CompiledExpr
    fields: CompiledValue
    when: CompiledExpr | None = None
    skip_reason: CompiledTemplate | None = None
    date: CompiledExpr | None = None
    vars: tuple[tuple[str, CompiledValue], ...] = ()
    match: tuple[tuple[str, CompiledExpr], ...] = ()
    unique: CompiledExpr | None = None
    void_when: CompiledExpr | None = None
    delete_when: CompiledExpr | None = None
    children: tuple[CompiledChild, ...] = ()
    target_id: CompiledExpr | None = None
    gone: CompiledValue | None = None  # the fields written when the source record is gone (flow `gone`)
    # vars and fields as one generated function of the scope (engine.fused): sets scope['vars'], returns the
    # payload; None when the tree could not be generated (the closures then run)
    body: Run | None = None

    @property
    def name(self) -> str:
        return self.flow.name


@dataclass(frozen=True)
class CompiledCheck:
    check: Check
    when: CompiledExpr | None
    where: tuple[tuple[str, CompiledExpr], ...]
    expect: CompiledExpr | None
    message: CompiledTemplate
    hint: CompiledTemplate | None
    fix_fields: CompiledValue | None


@dataclass(frozen=True)
class CompiledPack:
    resolved: ResolvedPack
    settings: Mapping[str, Any]
    flows: Mapping[str, CompiledFlow]
    machines: Mapping[str, CompiledMachine]
    checks: Mapping[str, CompiledCheck]

    @property
    def name(self) -> str:
        return self.resolved.pack.meta.name


class _Compiler:
    def __init__(self, resolved: ResolvedPack, observe: TableObserver | None = None) -> None:
        self.resolved = resolved
        self.errors: list[RuleError] = []
        self.tables = {name: _table_lookup(table, observe) for name, table in resolved.tables.items()}
        self.settings = resolved.setting_values()

    def env(self, names: frozenset[str]) -> ExprEnv:
        return ExprEnv(names, self.tables, frozenset(self.settings))

    def expr(self, src: Src | None, names: frozenset[str]) -> CompiledExpr | None:
        if src is None:
            return None
        result = compile_expr(src, self.env(names))
        if isinstance(result, list):
            self.errors.extend(result)
            return None
        return result

    def template(self, src: Src | None, names: frozenset[str]) -> CompiledTemplate | None:
        if src is None:
            return None
        result = compile_template(src, self.env(names))
        if isinstance(result, list):
            self.errors.extend(result)
            return None
        return result

    def value(self, spec: ValueSpec, names: frozenset[str]) -> CompiledValue:
        builder = _VALUE_COMPILERS[type(spec)]
        run, detail, node = builder(self, spec, names)
        mods: Mods = spec.mods
        conv = _converter(mods)
        return CompiledValue(_convert(run, conv), self.expr(mods.when, names), spec, detail, node, conv)


Built = tuple[Run, str, Node]  # a value's closure, its description for `explain`, and its node for engine.fused


def _failing(message: str) -> Run:
    def run(scope: dict[str, Any]) -> Any:
        raise EvalFailure(message)

    return run


def _c_expr(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    compiled = c.expr(spec.src, names)
    run = compiled.fn if compiled else _failing("invalid expression")
    return run, f"expr {spec.src.text}", Expr(compiled) if compiled else Call(run)


def _c_template(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    compiled = c.template(spec.src, names)
    run = compiled.fn if compiled else _failing("invalid template")
    return run, f"template {spec.src.text}", Call(run)


def _c_const(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    value = spec.value
    return (lambda scope: value), f"const {value!r}", Const(value)


def _c_lookup(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    key = c.expr(spec.key, names)
    table_fn = c.tables.get(spec.table)
    if key is None or table_fn is None:
        failing = _failing("invalid lookup")
        return failing, "", Call(failing)
    key_fn = key.fn

    def run(scope: dict[str, Any]) -> Any:
        k = key_fn(scope)
        return table_fn(k)

    return run, f"table {spec.table}[{spec.key.text}]", Lookup(table_fn, key)


def _c_object(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    items = tuple((name, c.value(value, names)) for name, value in spec.fields)
    plain = tuple((name, v.run, v.when.fn if v.when else None) for name, v in items)

    def run(scope: dict[str, Any]) -> Any:
        ctx: EvalContext = scope["__ctx"]
        if ctx.trace is not None:
            return _traced_object(items, scope, ctx)
        out: dict[str, Any] = {}
        for name, fn, when in plain:
            if when is not None and not when(scope):
                continue
            value = fn(scope)
            if value is not OMIT:
                out[name] = value
        return out

    return run, "object", Obj(items)


def _traced_object(items: tuple[tuple[str, CompiledValue], ...], scope: dict[str, Any], ctx: EvalContext) -> Any:
    assert ctx.trace is not None
    prefix = scope.get("__tpath", "")
    out: dict[str, Any] = {}
    for name, value in items:
        target = f"{prefix}.{name}" if prefix else name
        if value.when is not None and not value.when.fn(scope):
            ctx.trace.append(TraceEntry(target, str(value.when.src.loc), "skipped", f"when {value.when.src.text}"))
            continue
        inner = dict(scope)
        inner["__tpath"] = target
        ctx.lookups.clear()
        token = _TRACED_LOOKUPS.set(ctx.lookups)
        try:
            result = value.run(inner)
        finally:
            _TRACED_LOOKUPS.reset(token)
        if result is OMIT:
            continue
        out[name] = result
        if not isinstance(value.spec, (ObjectValue, EachValue, ListValue)):
            detail = value.detail
            for table, hits in ctx.lookups.items():
                detail += "; " + ", ".join(f"{table}[{k!r}] row at {loc}" for k, loc in hits)
            ctx.trace.append(TraceEntry(target, str(_spec_loc(value.spec)), type(value.spec).__name__[:-5].lower(),
                                        detail))
    return out


def _spec_loc(spec: ValueSpec) -> Any:
    return spec.src.loc if isinstance(spec, (ExprValue, TemplateValue)) else spec.loc


def _c_each(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    each = c.expr(spec.each, names)
    inner = names | {spec.name}
    where = c.expr(spec.where, inner)
    mapped = c.value(spec.map, inner)
    item_name = spec.name
    where_fn = where.fn if where else None
    map_fn, map_when = mapped.run, (mapped.when.fn if mapped.when else None)
    each_fn = each.fn if each else _failing("invalid each")

    def run(scope: dict[str, Any]) -> Any:
        items = each_items(each_fn(scope))
        local = dict(scope)
        prefix = scope.get("__tpath")
        out = []
        for index, item in enumerate(items):
            local[item_name] = item
            if prefix is not None:
                local["__tpath"] = f"{prefix}[{index}]"
            if where_fn is not None and not where_fn(local):
                continue
            if map_when is not None and not map_when(local):
                continue
            value = map_fn(local)
            if value is not OMIT:
                out.append(value)
        return out

    node: Node = Each(each, item_name, where, mapped) if each is not None and (spec.where is None or where) \
        else Call(run)
    return run, f"each {spec.each.text}", node


def _c_list(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    parts = tuple(c.value(item, names) for item in spec.items)
    plain = tuple((p.run, p.when.fn if p.when else None, isinstance(p.spec, EachValue)) for p in parts)

    def run(scope: dict[str, Any]) -> Any:
        out: list[Any] = []
        prefix = scope.get("__tpath")
        for fn, when, splice in plain:
            if when is not None and not when(scope):
                continue
            if prefix is not None and not splice:
                scope = {**scope, "__tpath": f"{prefix}[{len(out)}]"}
            value = fn(scope)
            if value is OMIT:
                continue
            if splice:
                out.extend(value)
            else:
                out.append(value)
        return out

    return run, "list", Listed(tuple((p, isinstance(p.spec, EachValue)) for p in parts))


def _c_ref(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    if spec.flow is not None:
        return _ledger_ref(c, spec, names)
    if spec.connection is not None:
        return _source_ref(c, spec, names)
    value_expr = c.expr(spec.value, names)
    create_when = c.expr(spec.create_when, names | {"value"})
    create = c.value(spec.create, names | {"value"}) if spec.create is not None else None
    entity, by, on_missing = spec.entity, _static_by(c, spec), spec.on_missing
    also = tuple(spec.also_by)
    fields = (by, *also)
    bare, field = spec.shape == "id", spec.field
    value_fn = value_expr.fn if value_expr else _failing("invalid ref")
    name_field = "DisplayName" if entity in ("Customer", "Vendor") else "Name"

    memo = _RefMemo()

    def resolve(wanted: Any, ctx: EvalContext, scope: dict[str, Any] | None) -> Any:
        if wanted is None or wanted == "":
            return _missing(on_missing, f"no {entity} to refer to: {spec.value.text} is empty", loc=spec.loc)
        refs = ctx.refs
        owner, revision, answers = memo.state
        if owner is refs and type(wanted) is str and revision == getattr(refs, "revision", None):
            known = answers.get(wanted)
            if known is not None:
                return known if bare else dict(known)
        found = refs.find(entity, by, wanted)
        if found is None and also:
            for match in also:
                found = refs.find(entity, match, wanted)
                if found is not None:
                    break
        if found is not None:
            if field is not None:
                return found.get(field)
            if bare:
                answer: Any = str(found.get("Id"))
            else:
                answer = {"value": str(found.get("Id"))}
                label = found.get(name_field) or found.get("Name")
                if label is not None:
                    answer["name"] = str(label)
            if type(wanted) is str:  # only text is remembered (a list or mapping value is not a key)
                memo.put(refs, wanted, answer if bare else dict(answer))
            return answer
        if on_missing == "create" and create is not None:
            assert scope is not None
            local = dict(scope)
            local["value"] = wanted
            if create_when is None or create_when.fn(local):
                pending = PendingCreate(entity, by, str(wanted), create.run(local))
                ctx.pending.setdefault((entity, by, str(wanted)), pending)
                return pending.placeholder if bare else {"value": pending.placeholder, "name": str(wanted)}
        if on_missing == "omit":  # no message to build
            return OMIT
        return _missing(on_missing, f"no {entity} with {by} = {wanted!r} in the QBO company", loc=spec.loc)

    return _ref_parts(resolve, value_expr, value_fn, create is not None and on_missing == "create",
                      f"ref {entity} by {' or '.join(fields)}", memo=memo, bare=bare)


class _RefMemo:
    """A ref's answers by wanted text, for one reference data at one revision: a mapping asks for the same
    customer, item and tax code on every line. Only reference data with a ``revision`` (bumped whenever what it
    finds may change) is remembered; the answers are kept in one tuple, swapped whole, so a thread never reads
    another company's answers."""

    __slots__ = ("state",)
    LIMIT = 4096

    def __init__(self) -> None:
        # (reference data, its revision, answers): read whole by the ref (an owner is only ever set with a revision)
        self.state: tuple[Any, Any, dict[str, Any]] = (None, None, {})

    def put(self, refs: Any, wanted: str, answer: Any) -> Any:
        revision = getattr(refs, "revision", None)
        if revision is not None:
            owner, known, answers = self.state
            if owner is not refs or known != revision or len(answers) >= self.LIMIT:
                answers = {}
                self.state = (refs, revision, answers)
            answers[wanted] = answer
        return answer


def _ref_parts(resolve: Callable[[Any, EvalContext, dict[str, Any] | None], Any], value: CompiledExpr | None,
               value_fn: Run, needs_scope: bool, detail: str, *, memo: _RefMemo | None = None,
               bare: bool = False) -> Built:
    """A ref's closure (its value, then ``resolve``) and its node; only a ref that may create needs the scope."""
    def run(scope: dict[str, Any]) -> Any:
        wanted = value_fn(scope)
        return resolve(wanted, scope["__ctx"], scope)

    return run, detail, Ref(resolve, value, needs_scope, memo, bare) if value is not None else Call(run)


def _static_by(c: _Compiler, spec: RefValue) -> str:
    """The matched field; a template over settings is rendered once, here."""
    if "{" not in spec.by:
        return spec.by
    template = c.template(Src(spec.by, spec.by_loc or spec.loc, (*spec.path, "by")), SETTINGS_ONLY)
    if template is None:
        return spec.by
    try:
        return template({"settings": c.settings})
    except EvalFailure as exc:
        c.errors.append(RuleError("E601", f"rendering `by`: {exc}", spec.by_loc or spec.loc))
        return spec.by


def _source_ref(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    """A record of another resource of a source connection: the whole record, or its `field`."""
    value_expr = c.expr(spec.value, names)
    value_fn = value_expr.fn if value_expr else _failing("invalid ref")
    connection, resource, by, on_missing, field = spec.connection, spec.entity, _static_by(c, spec), \
        spec.on_missing, spec.field

    def resolve(wanted: Any, ctx: EvalContext, scope: dict[str, Any] | None) -> Any:
        if wanted is None or wanted == "":
            return _missing(on_missing, f"no {resource} record to find: {spec.value.text} is empty", loc=spec.loc)
        finder = getattr(ctx.refs, "find_record", None)
        found = finder(connection, resource, by, wanted) if finder is not None else None
        if found is None:
            if on_missing == "omit":  # the common miss: no message to build
                return OMIT
            return _missing(on_missing, f"no {resource} record with {by} = {wanted!r} in {connection}", loc=spec.loc)
        return found.get(field) if field is not None else found

    return _ref_parts(resolve, value_expr, value_fn, False, f"ref {connection}.{resource} by {by}")


def _ledger_ref(c: _Compiler, spec: Any, names: frozenset[str]) -> Built:
    key_expr = c.expr(spec.key, names)
    key_fn = key_expr.fn if key_expr else _failing("invalid ref")
    flow, on_missing, bare, field = spec.flow, spec.on_missing, spec.shape == "id", spec.field

    def resolve(key: Any, ctx: EvalContext, scope: dict[str, Any] | None) -> Any:
        if key is not None and field is not None:
            value = ctx.ledger.target_field(flow, str(key), field)
            if value is None:
                return _missing(on_missing, f"record {key!r} of flow {flow!r} has no {field} yet", loc=spec.loc)
            return value
        target = ctx.ledger.target_id(flow, str(key)) if key is not None else None
        if target is None:
            return _missing(on_missing, f"record {key!r} of flow {flow!r} has not been synced yet", loc=spec.loc)
        return target if bare else {"value": target}

    return _ref_parts(resolve, key_expr, key_fn, False, f"ref flow {flow}")


def _missing(policy: str, message: str, loc: Any = None) -> Any:
    if policy == "omit":
        return OMIT
    if policy == "skip":
        raise Skip(message)
    raise EvalFailure(message, loc)


_VALUE_COMPILERS: Mapping[type, Callable[[_Compiler, Any, frozenset[str]], Built]] = {
    ExprValue: _c_expr, TemplateValue: _c_template, ConstValue: _c_const, LookupValue: _c_lookup,
    ObjectValue: _c_object, EachValue: _c_each, ListValue: _c_list, RefValue: _c_ref,
}


def _convert(run: Run, conv: Callable[[Any], Any] | None) -> Run:
    if conv is None:
        return run

    def converted(scope: dict[str, Any]) -> Any:
        return conv(run(scope))

    return converted


def _converter(mods: Mods) -> Callable[[Any], Any] | None:
    """A value's `type`/`round` conversion, value -> value (null and OMIT pass through), or None."""
    if mods.type is None and mods.round is None:
        return None
    convert = _CONVERSIONS[mods.type or "decimal"]
    places = mods.round
    if mods.type == "money" and 0 <= (2 if places is None else places) <= 8:
        quantum = Decimal(1).scaleb(-(2 if places is None else places))

        def money(value: Any) -> Any:  # round_money with its quantum computed once
            if value is None or value is OMIT:
                return value
            return to_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)

        money.quantum = quantum  # type: ignore[attr-defined]  # engine.fused writes a Decimal's rounding inline
        return money

    def converted(value: Any) -> Any:
        if value is None or value is OMIT:
            return value
        value = convert(value, places)
        if places is not None and isinstance(value, Decimal) and mods.type != "money":
            value = round_money(value, places)
        return value

    return converted


_CONVERSIONS: Mapping[str, Callable[[Any, int | None], Any]] = {
    "string": lambda v, _: str(v),
    "integer": lambda v, _: int(to_decimal(v)),
    "decimal": lambda v, _: to_decimal(v),
    "money": lambda v, places: round_money(v, 2 if places is None else places),
    "boolean": lambda v, _: v if isinstance(v, bool) else str(v).strip().lower() in ("true", "yes", "1", "on"),
    "date": lambda v, _: date(v),
}


# The trace being filled while `explain` maps one value: table -> [(key, the row's file:line)].
_TRACED_LOOKUPS: ContextVar[defaultdict[str, list[Any]] | None] = ContextVar("traced_lookups", default=None)


def _table_lookup(table: Table, observe: TableObserver | None = None) -> Callable[[Any], Any]:
    rows = {key: row.value for key, row in table.rows.items()}
    policy, default, name = table.on_missing, table.default, table.name
    integer = table.key_type == "integer"

    def lookup(key: Any) -> Any:
        if integer and isinstance(key, str) and key.strip().lstrip("-").isdigit():
            key = int(key)
        if observe is not None:
            observe(name, key)
        traced = _TRACED_LOOKUPS.get()
        if traced is not None:  # `explain`: which row produced the value (by `lookup:` or `lookup()`)
            row = table.rows.get(key) if isinstance(key, (str, int)) else None
            traced[name].append((key, str(row.loc) if row else "no row"))
        try:
            return rows[key]
        except KeyError:
            pass
        except TypeError:
            raise EvalFailure(f"table {name!r} cannot be looked up with a {type(key).__name__}") from None
        if policy == "default":
            return default
        if policy == "skip":
            raise Skip(f"table {name!r} has no row for {key!r}")
        raise EvalFailure(f"table {name!r} has no row for {key!r}")

    return lookup


def _compile_flow(c: _Compiler, flow: Flow) -> CompiledFlow:
    names = FLOW_NAMES
    for early in (flow.when, flow.skip_reason, flow.key, flow.date):
        if early is not None and "vars." in early.text:
            c.errors.append(RuleError("E408", f"flow {flow.name!r}: `{early.path[-1]}` is evaluated before `vars`, "
                                      "so it cannot read vars", early.loc, early.path,
                                      hint="repeat the expression here, or move the condition into the vars' users"))
    enabled = True
    if flow.enabled is not None:
        expr = c.expr(flow.enabled, SETTINGS_ONLY)
        if expr is not None:
            enabled = bool(_at_compile(c, expr))
    entity = flow.target.entity
    if flow.target.entity_expr is not None:
        expr = c.expr(flow.target.entity_expr, SETTINGS_ONLY)
        chosen = _at_compile(c, expr) if expr else None
        if chosen is not None and chosen not in flow.target.candidates:
            c.errors.append(RuleError("E407", f"flow {flow.name!r}: entity_expr gave {chosen!r}, not one of "
                                      f"{', '.join(flow.target.candidates)}", flow.target.entity_expr.loc))
        elif chosen is not None:
            entity = str(chosen)
    var_names = names
    compiled_vars = []
    for name, spec in flow.vars:
        compiled_vars.append((name, c.value(spec, var_names)))
    key = c.expr(flow.key, names)
    ops = flow.operations
    children = tuple(
        CompiledChild(ch.kind, c.expr(ch.when, names), c.expr(ch.each, names),
                      ch.name, c.template(ch.url, names | {ch.name}), c.template(ch.file_name, names | {ch.name}),
                      ch.content_type)
        for ch in flow.children
    )
    fields = c.value(flow.fields, names)
    return CompiledFlow(
        flow=flow, enabled=enabled, entity=entity, key=key or _never(flow.key),
        fields=fields, when=c.expr(flow.when, names),
        skip_reason=c.template(flow.skip_reason, names), date=c.expr(flow.date, names), vars=tuple(compiled_vars),
        match=tuple((f, e) for f, src in flow.match if (e := c.expr(src, names | {"payload"})) is not None),
        unique=c.expr(flow.unique.key, names) if flow.unique else None,
        void_when=c.expr(ops.void_when, names), delete_when=c.expr(ops.delete_when, names), children=children,
        target_id=c.expr(flow.target_id, names),
        gone=c.value(flow.gone.fields, names) if flow.gone is not None and flow.gone.fields is not None else None,
        body=fuse(sorted(names), compiled_vars, fields),
    )


def _never(src: Src) -> CompiledExpr:
    return CompiledExpr(src, _failing("invalid expression"), frozenset(), (), ())


def _at_compile(c: _Compiler, expr: CompiledExpr | None) -> Any:
    """Evaluate an expression over settings only, now (flow switches, entity choices, gotos)."""
    if expr is None:
        return None
    try:
        return expr({"settings": c.settings})
    except (EvalFailure, TypeError, ValueError, ArithmeticError) as exc:
        if c.resolved.profile is not None:
            c.errors.append(RuleError("E601", f"evaluating {expr.src.text!r} over settings: {exc}", expr.src.loc,
                                      expr.src.path))
        return None


def _compile_check(c: _Compiler, check: Check) -> CompiledCheck:
    names = SETTINGS_ONLY | {"value"}
    return CompiledCheck(
        check=check, when=c.expr(check.when, SETTINGS_ONLY),
        where=tuple((f, e) for f, src in check.where if (e := c.expr(src, SETTINGS_ONLY)) is not None),
        expect=c.expr(check.expect, names), message=c.template(check.message, names) or _no_template(check.message),
        hint=c.template(check.hint, names),
        fix_fields=c.value(check.fix_fields, SETTINGS_ONLY) if check.fix_fields else None,
    )


def _no_template(src: Src) -> CompiledTemplate:
    return CompiledTemplate(src, lambda scope: src.text, frozenset(), ())


# Templates in a connection's options (base URL, headers, params, paths) see the settings, and write paths the
# record's ``target_id``; each connector compiles its own when it is built, but names are checked here, with
# the rest of the pack, so a misspelt setting fails `validate` instead of a sync.
CONNECTION_NAMES = SETTINGS_ONLY | {"target_id"}


def _connection_templates(c: _Compiler, value: Any, path: tuple[str, ...], loc: Any) -> None:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            c.template(Src(value, loc, path), CONNECTION_NAMES)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _connection_templates(c, item, (*path, str(key)), loc)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _connection_templates(c, item, (*path, str(index)), loc)


def compile_pack(resolved: ResolvedPack, *, observe: TableObserver | None = None) -> CompiledPack:
    """Compile every flow, machine and check; raises ``PasserelleError`` with every error found.
    ``observe(table, key)`` is told of every table lookup (``check --tables`` learns which rows records reach)."""
    c = _Compiler(resolved, observe)
    flows = {name: _compile_flow(c, flow) for name, flow in resolved.pack.flows.items()}
    machines = {}
    for name, machine in resolved.pack.machines.items():
        compiled, errors = compile_machine(machine, resolved, c.env(SETTINGS_ONLY | {"event", "record", "state"}))
        c.errors.extend(errors)
        if compiled is not None:
            machines[name] = compiled
    checks = {name: _compile_check(c, check) for name, check in resolved.pack.checks.items()}
    c.errors.extend(guard_errors(resolved.pack.flows, resolved.pack.machines, c.settings, c.env(SETTINGS_ONLY)))
    for conn in resolved.connections.values():
        _connection_templates(c, conn.options, ("connections", conn.name), conn.loc)
    if c.errors:
        raise PasserelleError(c.errors)
    return CompiledPack(resolved, c.settings, MappingProxyType(flows), MappingProxyType(machines),
                        MappingProxyType(checks))
