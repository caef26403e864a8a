"""Fused mappings: a flow's vars and fields generated as one Python function at compile time.

The compiled value tree (engine.compile) calls one closure per field and one function per
expression, each reading its names from a scope dict. For the common path (no trace), this module
writes the same tree out as the body of a single function: objects, lists and ``each`` loops become
statements, expressions are inlined from their checked trees (engine.expressions) reading names
from locals, and only refs, templates and conversions stay calls. Evaluation order, budget charges,
OMIT handling and results are the closure tree's; a runtime error inside an inlined expression is
placed on that expression through ``LINE_SOURCES`` (each inlined expression sits on a line of its own).
Anything the generator does not know falls back to calling the compiled closure with a scope dict,
and a tree it cannot compile at all keeps the closures (``fuse`` returns None).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.bounds import EvalFailure, charge
from engine.context import OMIT
from engine.expressions import AST_LOCK, BASE_GLOBALS, LINE_SOURCES, CompiledExpr, inline_body
from engine.model import Src

__all__ = ["Call", "Const", "Each", "Expr", "Fusable", "Listed", "Lookup", "Node", "Obj", "Ref", "each_items", "fuse"]

Scope = dict[str, Any]


@dataclass(frozen=True)
class Expr:
    expr: CompiledExpr


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Call:
    """Not generated: the compiled closure, called with the scope dict (templates, invalid values)."""

    run: Callable[[Scope], Any]


@dataclass(frozen=True)
class Lookup:
    table: Callable[[Any], Any]
    key: CompiledExpr


class Memo(Protocol):
    """A ref's remembered answers (engine.compile._RefMemo): (reference data, its revision, answers)."""

    @property
    def state(self) -> tuple[Any, Any, Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Ref:
    """``resolve(wanted, ctx, scope)``; the scope dict is passed only when the ref may create (``needs_scope``).
    With a ``memo``, an answer remembered for the record's reference data is read inline (a copy unless ``bare``)."""

    resolve: Callable[[Any, Any, Scope | None], Any]
    value: CompiledExpr
    needs_scope: bool
    memo: Memo | None = None
    bare: bool = False


@dataclass(frozen=True)
class Obj:
    fields: tuple[tuple[str, Fusable], ...]


@dataclass(frozen=True)
class Listed:
    parts: tuple[tuple[Fusable, bool], ...]  # (value, spliced: an `each` whose items join the list)


@dataclass(frozen=True)
class Each:
    items: CompiledExpr
    name: str
    where: CompiledExpr | None
    map: Fusable


Node = Expr | Const | Call | Lookup | Ref | Obj | Listed | Each


class Fusable(Protocol):
    """A compiled value as the generator sees it: what it is, its `when`, and its conversion (value -> value)."""

    @property
    def node(self) -> Node: ...

    @property
    def when(self) -> CompiledExpr | None: ...

    @property
    def conv(self) -> Callable[[Any], Any] | None: ...


def each_items(items: Any) -> Any:
    """What an `each` walks: null is nothing; text and mappings are refused; the walk is charged."""
    if type(items) is list:  # the common case
        charge(len(items))
        return items
    if items is None:
        return ()
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise EvalFailure(f"`each` needs a list, got {type(items).__name__}")
    if isinstance(items, Mapping):
        raise EvalFailure("`each` needs a list, got a mapping")
    if hasattr(items, "__len__"):
        charge(len(items))
    return items


def _store(before: str, after: str) -> Callable[[str], str]:
    """The statement storing a value's expression (in an object's key, or a list)."""
    def store(value: str) -> str:
        return before + value + after

    return store


class _Unfusable(Exception):
    """The tree has something the generator cannot write out; the closures stay."""


@dataclass
class _Ctx:
    names: dict[str, str]  # scope name -> the local holding it
    scope: str  # the local holding the scope dict the closures expect
    scope_used: bool = False


@dataclass
class _Gen:
    lines: list[str] = field(default_factory=list)
    namespace: dict[str, Any] = field(default_factory=dict)
    exprs: list[tuple[CompiledExpr, dict[str, str]]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    # Locals always holding a mapping: the scope's `vars` dict, the `settings` mapping evaluate() is given, and
    # the items of an `each` over a var built as a list of objects here. A field read on them is ``.get``.
    mappings: set[str] = field(default_factory=lambda: {"_n_vars", "_n_settings"})
    object_lists: set[str] = field(default_factory=set)  # vars whose value is a list of objects built here

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def temp(self, prefix: str) -> str:
        return f"_{prefix}{next(self.counter)}"

    def const(self, value: Any) -> str:
        name = self.temp("k")
        self.namespace[name] = value
        return name

    def expr(self, expr: CompiledExpr, ctx: _Ctx) -> str:
        if expr.body is None:
            raise _Unfusable
        self.exprs.append((expr, dict(ctx.names)))
        self.namespace.update(expr.consts)
        return f"_X{len(self.exprs) - 1}"

    def value(self, value: Fusable, ctx: _Ctx, indent: int) -> str:
        """Statements computing ``value`` (emitted at ``indent``) and the expression giving it, converted."""
        out = self._node(value.node, ctx, indent)
        if value.conv is None:
            return out
        quantum = getattr(value.conv, "quantum", None)
        if quantum is not None:  # a money conversion: a Decimal is rounded here, anything else by the converter
            temp = self.temp("m")
            return f"({temp}.quantize({self.const(quantum)}, rounding=_half_up) if _type(({temp} := {out})) " \
                   f"is _Decimal else {self.const(value.conv)}({temp}))"
        return f"{self.const(value.conv)}({out})"

    def _node(self, node: Node, ctx: _Ctx, indent: int) -> str:
        if isinstance(node, Expr):
            return self.expr(node.expr, ctx)
        if isinstance(node, Const):
            return self.const(node.value)
        if isinstance(node, Call):
            ctx.scope_used = True
            return f"{self.const(node.run)}({ctx.scope})"
        if isinstance(node, Lookup):
            return f"{self.const(node.table)}({self.expr(node.key, ctx)})"
        if isinstance(node, Ref):
            ctx.scope_used = ctx.scope_used or node.needs_scope
            call = f"{self.const(node.resolve)}({{}}, _ctx, {ctx.scope if node.needs_scope else 'None'})"
            if node.memo is None:
                return call.format(self.expr(node.value, ctx))
            wanted, state, known = self.temp("w"), self.temp("st"), self.temp("kn")
            self.emit(indent, f"{wanted} = {self.expr(node.value, ctx)}")
            self.emit(indent, f"{state} = {self.const(node.memo)}.state")
            answer = known if node.bare else f"_dict({known})"
            return f"({answer} if {state}[0] is _refs and {state}[1] == _revision and _type({wanted}) is _str " \
                   f"and ({known} := {state}[2].get({wanted})) is not None else {call.format(wanted)})"
        if isinstance(node, Obj):
            target = self.temp("o")
            self.emit(indent, f"{target} = {{}}")
            for name, item in node.fields:
                self._member(item, ctx, indent, _store(f"{target}[{name!r}] = ", ""))
            return target
        if isinstance(node, Listed):
            target = self.temp("a")
            self.emit(indent, f"{target} = []")
            for item, splice in node.parts:
                self._member(item, ctx, indent, _store(f"{target}.{'extend' if splice else 'append'}(", ")"))
            return target
        if isinstance(node, Each):
            return self._each(node, ctx, indent)
        raise _Unfusable

    def _member(self, item: Fusable, ctx: _Ctx, indent: int, store: Callable[[str], str]) -> None:
        """One field of an object or part of a list: skipped when its `when` is false, left out when OMIT."""
        if item.when is not None:
            self.emit(indent, f"if {self.expr(item.when, ctx)}:")
            indent += 1
        value = self.value(item, ctx, indent)
        if isinstance(item.node, (Ref, Call)):  # the only values that may be OMIT
            temp = self.temp("t")
            self.emit(indent, f"{temp} = {value}")
            self.emit(indent, f"if {temp} is not _OMIT:")
            self.emit(indent + 1, store(temp))
        else:
            self.emit(indent, store(value))

    def _each(self, node: Each, ctx: _Ctx, indent: int) -> str:
        items, target, item = self.temp("i"), self.temp("a"), self.temp("e")
        self.emit(indent, f"{items} = _each_items({self.expr(node.items, ctx)})")
        self.emit(indent, f"{target} = []")
        inner = _Ctx({**ctx.names, node.name: item}, self.temp("l"))
        read = _VAR_READ.fullmatch(node.items.src.text.strip())
        if read is not None and read.group(1) in self.object_lists:
            self.mappings.add(item)
        outer_lines, self.lines = self.lines, []
        if node.where is not None:
            self.emit(indent + 1, f"if not {self.expr(node.where, inner)}:")
            self.emit(indent + 2, "continue")
        if node.map.when is not None:
            self.emit(indent + 1, f"if not {self.expr(node.map.when, inner)}:")
            self.emit(indent + 2, "continue")
        value = self.value(node.map, inner, indent + 1)
        if isinstance(node.map.node, (Ref, Call)):
            temp = self.temp("t")
            self.emit(indent + 1, f"{temp} = {value}")
            self.emit(indent + 1, f"if {temp} is not _OMIT:")
            self.emit(indent + 2, f"{target}.append({temp})")
        else:
            self.emit(indent + 1, f"{target}.append({value})")
        body, self.lines = self.lines, outer_lines
        if inner.scope_used:  # a closure inside needs the scope dict with the item, as the closure tree gives it
            ctx.scope_used = True
            self.emit(indent, f"{inner.scope} = _dict({ctx.scope})")
        self.emit(indent, f"for {item} in {items}:")
        if inner.scope_used:
            self.emit(indent + 1, f"{inner.scope}[{node.name!r}] = {item}")
        self.lines.extend(body)
        return target


_counter = itertools.count()


def fuse(names: Sequence[str], variables: Sequence[tuple[str, Fusable]], fields: Fusable
         ) -> Callable[[Scope], Any] | None:
    """One function of the evaluation scope: sets each var (in order, when its `when` holds) in
    ``scope['vars']`` and returns the fields' value. None when the tree cannot be generated."""
    gen = _Gen()
    ctx = _Ctx({name: f"_n_{name}" for name in names}, "_s")
    gen.emit(1, "_ctx = _s['__ctx']")
    gen.emit(1, "_refs = _ctx.refs")
    gen.emit(1, "_revision = _getattr(_refs, 'revision', None)")
    for name in names:
        gen.emit(1, f"_n_{name} = _s[{name!r}]")
    try:
        for name, value in variables:
            indent = 1
            if value.when is not None:
                gen.emit(1, f"if {gen.expr(value.when, ctx)}:")
                indent = 2
            gen.emit(indent, f"_n_vars[{name!r}] = {gen.value(value, ctx, indent)}")
            node = value.node
            if isinstance(node, Each) and isinstance(node.map.node, Obj) and node.map.conv is None:
                gen.object_lists.add(name)
            else:
                gen.object_lists.discard(name)
        gen.emit(1, f"return {gen.value(fields, ctx, 1)}")
        return _build(gen)
    except (_Unfusable, KeyError, SyntaxError, TypeError, ValueError, RecursionError, MemoryError):
        return None


_VAR_READ = re.compile(r"vars\.([A-Za-z_][A-Za-z0-9_]*)")


class _KnownMappings(ast.NodeTransformer):
    """A field read on a local known to hold a mapping is ``.get``, without the type test a value needs."""

    def __init__(self, mappings: set[str]) -> None:
        self.mappings = mappings

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        test = node.test
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Call) and len(test.left.args) == 1:
            named = test.left.args[0]
            if isinstance(named, ast.NamedExpr) and isinstance(named.value, ast.Name) \
                    and named.value.id in self.mappings and isinstance(node.body, ast.Call) \
                    and isinstance(node.body.func, ast.Attribute) and node.body.func.attr == "get":
                return ast.copy_location(_get_on(named.value.id, node.body.args[0]), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "_get" and len(node.args) == 2 \
                and isinstance(node.args[0], ast.Name) and node.args[0].id in self.mappings:
            return ast.copy_location(_get_on(node.args[0].id, node.args[1]), node)
        return node


def _get_on(name: str, key: ast.expr) -> ast.expr:
    return ast.Call(ast.Attribute(ast.Name(name, ast.Load()), "get", ast.Load()), [key], [])


def _build(gen: _Gen) -> Callable[[Scope], Any]:
    number = next(_counter)
    filename = f"<fused#{number}>"
    text = "def _fused(_s):\n" + "\n".join(gen.lines) + "\n"
    with AST_LOCK:
        tree = ast.parse(text, filename)
    first = text.count("\n") + 2  # inlined expressions sit below the scaffolding, one line each
    lines: dict[int, Src] = {}

    class Inline(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if not node.id.startswith("_X"):
                return node
            index = int(node.id[2:])
            expr, names = gen.exprs[index]
            lines[first + index] = expr.src
            return inline_body(expr, names, first + index)

    tree = ast.fix_missing_locations(_KnownMappings(gen.mappings).visit(Inline().visit(tree)))
    namespace: dict[str, Any] = {**BASE_GLOBALS, **gen.namespace, "_OMIT": OMIT, "_each_items": each_items, "_dict": dict,
                              "_getattr": getattr}
    with AST_LOCK:
        code = compile(tree, filename, "exec")
    exec(code, namespace)
    LINE_SOURCES[filename] = lines
    fn: Callable[[Scope], Any] = namespace["_fused"]
    return fn
