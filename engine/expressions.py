"""Expressions: parsed once by simpleeval's parser, checked against a whitelist, compiled to Python.

The checked tree is compiled into a real Python function, so a mapping runs within a small factor
of hand-written code. Safety does not depend on Python's own sandboxing: only whitelisted node
types survive the check; names must be declared variables; calls must name registry functions;
``a.b`` and ``a[b]`` become data reads (no attribute of any Python object is ever reachable);
``+``, ``*``, ``**``, ``%`` and ``in`` go through helpers that measure a result before building it
and charge the record's work budget (``engine.bounds``); comprehensions take one generator, do not
nest, and are charged for every item. Text length and nesting depth are bounded before parsing.
Semantics follow simpleeval's (a test checks both agree), with float literals read as Decimal.
"""

from __future__ import annotations

import ast
import copy
import itertools
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation
from types import MappingProxyType
from typing import Any

import simpleeval

from engine.bounds import (
    MAX_DECIMAL_EXPONENT,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPRESSION,
    MAX_FORMAT_WIDTH,
    MAX_POWER,
    MAX_STRING,
    EvalFailure,
    charge,
    depth,
    end_record,
    size_of,
    start_record,
)
from engine.errors import RuleError
from engine.functions import FUNCTIONS, PARSED, to_decimal
from engine.model import Src
from engine.validate import did_you_mean

__all__ = ["AST_LOCK", "BASE_GLOBALS", "BOUNDED_BINOPS", "LINE_SOURCES", "SCOPE_PREFIX", "CompiledExpr", "ExprEnv", "Skip",
           "compile_expr", "inline_body", "read_field"]

# A scope name ``x`` is the local ``_n_x`` in compiled code (names starting with '_' are reserved, so a
# comprehension's own names never collide with it, and code inlining the expression can rename it).
SCOPE_PREFIX = "_n_"


class Skip(Exception):
    """Raised during evaluation to skip the current record, with the reason shown in the plan."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExprEnv:
    """What an expression may refer to where it stands."""

    names: frozenset[str]
    tables: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    settings: frozenset[str] | None = None  # the declared settings, when known: `settings.X` is checked against them


@dataclass(frozen=True)
class CompiledExpr:
    """A checked, compiled expression: call it with a scope mapping names to values."""

    src: Src
    fn: Callable[[Mapping[str, Any]], Any]
    names: frozenset[str]
    settings: tuple[str, ...]
    tables: tuple[str, ...]
    # The checked tree and the constants it refers to, for code that inlines the expression (engine.fused).
    body: ast.expr | None = field(default=None, compare=False, repr=False)
    consts: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, scope: Mapping[str, Any]) -> Any:
        return self.fn(scope)


_ALLOWED = (
    ast.Expression, ast.Expr, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Pow, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Call, ast.Name,
    ast.Load, ast.Store, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict,
    ast.ListComp, ast.GeneratorExp, ast.comprehension, ast.keyword,
)


def read_field(obj: Any, name: Any) -> Any:
    """``obj.name`` / ``obj[name]`` on data: a missing key or a null parent gives null."""
    kind = type(obj)
    if kind is dict or kind is MappingProxyType:  # fast path for parsed JSON/YAML and settings
        return obj.get(name)
    if isinstance(obj, Mapping):
        return obj.get(name)
    if obj is None:
        return None
    if isinstance(obj, (list, tuple, str)) and isinstance(name, int) and not isinstance(name, bool):
        try:
            return obj[name]
        except IndexError:
            return None
    raise EvalFailure(f"cannot read {name!r} of {type(obj).__name__} {str(obj)[:40]!r}")


def _slice(obj: Any, lower: Any, upper: Any, step: Any) -> Any:
    if not isinstance(obj, (list, tuple, str)):
        raise EvalFailure(f"cannot slice {type(obj).__name__}")
    return obj[lower:upper:step]


_MAX_BITS = int(MAX_DIGITS * 3.33)  # a whole number of MAX_DIGITS decimal digits, in bits (rounded down)
_SEQUENCES = (str, list, tuple)


def _mul(a: Any, b: Any) -> Any:
    if type(a) is Decimal and type(b) is Decimal:  # fast path: numbers cannot repeat anything
        return a * b
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, _SEQUENCES) and isinstance(n, int):
            size = size_of(seq) * max(n, 0)
            if size > MAX_STRING:
                raise EvalFailure(f"repetition would build more than {MAX_STRING} items")
            charge(size)
            return a * b
    if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() > _MAX_BITS:
        raise EvalFailure(f"product would have more than {MAX_DIGITS} digits")
    return a * b


def _add(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is Decimal or kind is int:  # fast path: numbers
        return a + b
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        size = len(a) + len(b)  # new references only: items already built were measured when they were
        if size > MAX_STRING:
            raise EvalFailure(f"concatenation would build more than {MAX_STRING} items")
        charge(size)
    return a + b


def _pow(a: Any, b: Any) -> Any:
    if isinstance(b, (int, Decimal)) and not isinstance(b, bool):
        exponent: int | Decimal = b
        if not -MAX_POWER <= exponent <= MAX_POWER:
            raise EvalFailure(f"exponent {b} is larger than {MAX_POWER}")
        if type(a) is int and a.bit_length() * exponent > _MAX_BITS:
            raise EvalFailure(f"power would have more than {MAX_DIGITS} digits")
        if isinstance(a, Decimal) and a and not -MAX_DECIMAL_EXPONENT <= (a.adjusted() + 1) * exponent \
                <= MAX_DECIMAL_EXPONENT:
            raise EvalFailure(f"power would be out of range (at most 10**{MAX_DECIMAL_EXPONENT})")
    return a**b


# A `%` conversion: flags, width, precision, length modifier and type (printf-style, as Python reads it).
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.S)


def _check_format(text: str) -> None:
    """Refuse `*` widths and widths or precisions over MAX_FORMAT_WIDTH in a printf-style format."""
    for width, precision, _ in _CONVERSION.findall(text):
        for number in (width, precision):
            if number == "*":
                raise EvalFailure("`*` widths are not allowed in % formatting")
            if number and int(number) > MAX_FORMAT_WIDTH:
                raise EvalFailure(f"% formatting width {number} is larger than {MAX_FORMAT_WIDTH}")


def _mod(a: Any, b: Any) -> Any:
    """``a % b``; on text, printf-style formatting whose widths are checked before anything is padded."""
    if isinstance(a, str):
        _check_format(a)
        args = b if isinstance(b, tuple) else (b,)
        if len(a) + sum(size_of(x) if isinstance(x, (str, list, tuple, dict)) else 1 for x in args) > MAX_STRING:
            raise EvalFailure(f"% formatting would build more than {MAX_STRING} characters")
    return a % b


def _in(item: Any, container: Any) -> bool:
    """``item in container``, charged for the walk (membership in a list inside a loop is quadratic)."""
    if isinstance(container, (list, tuple, str)):
        charge(len(container))
    return item in container


def _iter(values: Any) -> Any:
    """A comprehension's iterable, charged one unit per item."""
    if type(values) is list or isinstance(values, (tuple, str, dict)) or hasattr(values, "__len__"):
        charge(len(values))
    return values


def _div(a: Any, b: Any) -> Any:
    try:
        return to_decimal(a) / to_decimal(b)
    except (ZeroDivisionError, DivisionByZero, InvalidOperation):
        raise EvalFailure("division by zero") from None


# The same measuring operators, for the template engine.
BOUNDED_BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {"+": _add, "*": _mul, "**": _pow, "%": _mod}
_HELPERS: Mapping[str, Any] = {"_get": read_field, "_slice": _slice, "_mul": _mul, "_pow": _pow, "_div": _div,
                               "_add": _add, "_mod": _mod, "_in": _in, "_iter": _iter}
_BASE_GLOBALS: Mapping[str, Any] = {
    "__builtins__": {}, **_HELPERS, "_type": type, "_mappings": frozenset({dict, MappingProxyType}),
    "_str": str, "_Decimal": Decimal, "_pget": PARSED.get, "_cent": Decimal("0.01"), "_half_up": ROUND_HALF_UP,
    **{f"_f_{name}": spec.fn for name, spec in FUNCTIONS.items()},
}
BASE_GLOBALS = _BASE_GLOBALS  # what compiled expression code sees (helpers and functions), for code inlining it
_counter = itertools.count()
SOURCES: dict[str, Src] = {}  # compiled code's file name -> the expression's source, to place runtime errors
# Code that inlines several expressions (engine.fused): file name -> line -> the source of the expression on it.
LINE_SOURCES: dict[str, dict[int, Src]] = {}


# Readable names for syntax that expressions refuse (the rest are reported by their AST class name).
_FORBIDDEN_NAMES = {
    "Lambda": "lambda", "NamedExpr": "assignment (:=)", "Await": "await", "Yield": "yield",
    "YieldFrom": "yield from", "JoinedStr": "f-string", "FormattedValue": "f-string", "SetComp": "set comprehension",
    "DictComp": "dict comprehension", "Starred": "unpacking (*)", "Set": "set literal",
}


class _Checker(ast.NodeTransformer):
    """Checks one parsed expression and rewrites it into safe calls; collects errors."""

    def __init__(self, src: Src, env: ExprEnv, number: int = 0) -> None:
        self.src, self.env, self.number = src, env, number
        self.errors: list[RuleError] = []
        self.constants: dict[str, Any] = {}
        self.used: set[str] = set()
        self.settings: list[str] = []
        self.tables: list[str] = []
        self.local: list[set[str]] = []
        self.depth = 0
        self.temps = 0
        self.in_iterable = False

    def fail(self, node: ast.AST, code: str, message: str, hint: str | None = None) -> None:
        self.errors.append(RuleError(code, f"{message} in expression {self.src.text!r}", self.src.loc, self.src.path,
                                     hint=hint))

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, _ALLOWED):
            what = _FORBIDDEN_NAMES.get(type(node).__name__, type(node).__name__)
            self.fail(node, "E403", f"{what} is not allowed",
                      "expressions read data and call registry functions only")
            return node
        return super().generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and len(node.value) > MAX_STRING:
            self.fail(node, "E405", "string constant is too long")
        if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            self.fail(node, "E403", f"{type(node.value).__name__} constants are not allowed")
        if isinstance(node.value, float):
            name = f"_c{self.number}_{len(self.constants)}"
            self.constants[name] = Decimal(repr(node.value))
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Store):
            return node
        if any(node.id in scope for scope in self.local):
            return node
        if node.id.startswith("_"):
            self.fail(node, "E403", f"name {node.id!r} is not allowed (names starting with '_' are reserved)")
        elif node.id in self.env.names:
            self.used.add(node.id)
            return ast.copy_location(ast.Name(SCOPE_PREFIX + node.id, ast.Load()), node)
        elif node.id in FUNCTIONS:
            self.fail(node, "E403", f"function {node.id!r} must be called, not used as a value")
        elif node.id in ("True", "False", "None"):
            return ast.copy_location(ast.Constant({"True": True, "False": False, "None": None}[node.id]), node)
        else:
            self.fail(node, "E401", f"unknown name {node.id!r}",
                      did_you_mean(node.id, self.env.names) or f"names available here: {', '.join(sorted(self.env.names))}")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr.startswith("_"):
            self.fail(node, "E403", f"attribute {node.attr!r} is not allowed (names starting with '_' are reserved)")
            return node
        if isinstance(node.value, ast.Name) and node.value.id == "settings" and self._setting(node, node.attr):
            self.settings.append(node.attr)
        value = self.visit(node.value)
        call = ast.Call(ast.Name("_get", ast.Load()), [value, ast.Constant(node.attr)], [])
        if self.in_iterable:  # an assignment expression is not allowed in a comprehension's iterable
            return ast.copy_location(call, node)
        # `a.b` on a plain or read-only mapping is read inline (no call); anything else goes through _get.
        temp = f"_v{self.temps}"
        self.temps += 1
        test = ast.Compare(ast.Call(ast.Name("_type", ast.Load()), [ast.NamedExpr(ast.Name(temp, ast.Store()), value)],
                                    []), [ast.In()], [ast.Name("_mappings", ast.Load())])
        fast = ast.Call(ast.Attribute(ast.Name(temp, ast.Load()), "get", ast.Load()), [ast.Constant(node.attr)], [])
        slow = ast.Call(ast.Name("_get", ast.Load()), [ast.Name(temp, ast.Load()), ast.Constant(node.attr)], [])
        return ast.copy_location(ast.IfExp(test, fast, slow), node)

    def _setting(self, node: ast.AST, name: str) -> bool:
        """Whether ``settings.<name>`` names a declared setting (an E401 with a did-you-mean when not)."""
        if self.env.settings is None or name in self.env.settings or "settings" not in self.env.names \
                or any("settings" in scope for scope in self.local):
            return True
        self.fail(node, "E401", f"unknown setting {name!r}", did_you_mean(name, self.env.settings)
                  or (f"settings declared: {', '.join(sorted(self.env.settings))}" if self.env.settings
                      else "the pack declares no settings"))
        return False

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "settings" \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str) \
                and self._setting(node, node.slice.value):
            self.settings.append(node.slice.value)
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [self.visit(p) if p is not None else ast.Constant(None)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            return ast.copy_location(ast.Call(ast.Name("_slice", ast.Load()), [value, *parts], []), node)
        key = self.visit(node.slice)
        return ast.copy_location(ast.Call(ast.Name("_get", ast.Load()), [value, key], []), node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        left, right = self.visit(node.left), self.visit(node.right)
        helper = _BINOP_HELPERS.get(type(node.op))
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) \
                and isinstance(node.right.value, int) and abs(node.right.value) > MAX_POWER:
            self.fail(node, "E405", f"exponent {node.right.value} is larger than {MAX_POWER}")
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            try:
                _check_format(node.left.value)  # a constant format is checked once, whatever the data
            except EvalFailure as exc:
                self.fail(node, "E405", str(exc))
        if isinstance(node.op, (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor, ast.MatMult)):
            self.fail(node, "E403", f"operator {type(node.op).__name__} is not allowed")
            return node
        if helper == "_mul" and not self.in_iterable:  # two Decimals multiply inline; anything else is measured
            a, b = self._temp(), self._temp()
            return ast.copy_location(_inline(f"{a} * {b} if (_type(({a} := L)) is _Decimal) & "
                                             f"(_type(({b} := R)) is _Decimal) else _mul({a}, {b})",
                                             L=left, R=right), node)
        if helper:
            return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [left, right], []), node)
        node.left, node.right = left, right
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        memberships = [op for op in node.ops if isinstance(op, (ast.In, ast.NotIn))]
        if memberships and len(node.ops) > 1:
            self.fail(node, "E403", "`in` cannot be chained with another comparison", "join the tests with `and`")
            return node
        node.left = self.visit(node.left)
        node.comparators = [self.visit(c) for c in node.comparators]
        if not memberships:
            return node
        test: ast.expr = ast.Call(ast.Name("_in", ast.Load()), [node.left, node.comparators[0]], [])
        if isinstance(node.ops[0], ast.NotIn):
            test = ast.UnaryOp(ast.Not(), test)
        return ast.copy_location(test, node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Lambda):
            self.fail(node.func, "E403", "lambda is not allowed",
                      "expressions read data and call registry functions only")
            return node
        if not isinstance(node.func, ast.Name):
            self.fail(node, "E403", "only registry functions can be called (no methods)",
                      "use e.g. upper(x) rather than x.upper()")
            return node
        name = node.func.id
        spec = FUNCTIONS.get(name)
        if spec is None:
            self.fail(node, "E402", f"unknown function {name!r}", did_you_mean(name, FUNCTIONS)
                      or "see docs/reference.md for the function list")
            return node
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            self.fail(node, "E403", "*args and **kwargs are not allowed")
            return node
        count = len(node.args) + len(node.keywords)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            most = "any number of" if spec.max_args is None else spec.max_args
            self.fail(node, "E406", f"{name}() takes {spec.min_args} to {most} arguments, got {count}", spec.doc)
            return node
        if name == "lookup":
            return self._lookup(node)
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [ast.keyword(k.arg, self.visit(k.value)) for k in node.keywords]
        node.func = ast.Name(f"_f_{name}", ast.Load())
        inline = _INLINE_CALLS.get((name, len(node.args)))
        if inline is not None and not node.keywords and not self.in_iterable:
            v, w = self._temp(), self._temp()
            parts = dict(zip("XY"[:len(node.args)], node.args, strict=True))
            return ast.copy_location(_inline(inline.format(v=v, w=w), **parts), node)
        return node

    def _temp(self) -> str:
        self.temps += 1
        return f"_v{self.temps - 1}"

    def _lookup(self, node: ast.Call) -> ast.AST:
        table = node.args[0] if node.args else None
        if not (isinstance(table, ast.Constant) and isinstance(table.value, str)):
            self.fail(node, "E403", "lookup() needs the table name as a quoted string")
            return node
        if table.value not in self.env.tables:
            self.fail(node, "E301", f"unknown table {table.value!r}", did_you_mean(table.value, self.env.tables))
            return node
        self.tables.append(table.value)
        name = f"_t{self.number}_{table.value}"
        self.constants[name] = self.env.tables[table.value]
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), [self.visit(node.args[1])], []), node)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> ast.AST:
        if len(node.generators) != 1 or self.depth:
            self.fail(node, "E403", "a comprehension takes one `for` and cannot be nested")
            return node
        gen = node.generators[0]
        if gen.is_async or not isinstance(gen.target, ast.Name):
            self.fail(node, "E403", "a comprehension binds one plain name")
            return node
        self.in_iterable = True
        try:
            gen.iter = ast.Call(ast.Name("_iter", ast.Load()), [self.visit(gen.iter)], [])
        finally:
            self.in_iterable = False
        self.local.append({gen.target.id})
        self.depth += 1
        try:
            gen.ifs = [self.visit(i) for i in gen.ifs]
            node.elt = self.visit(node.elt)
        finally:
            self.depth -= 1
            self.local.pop()
        return node

    def visit_ListComp(self, node: ast.ListComp) -> ast.AST:
        return self._comprehension(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        return self._comprehension(node)


# CPython 3.11 keeps the AST constructor's recursion depth in state shared by all threads: two threads
# building or compiling Python AST objects at once can fail with "AST constructor recursion depth mismatch"
# (python/cpython#106905). Packs are compiled on the service's threads too, so every parse into AST objects
# and every compile of one holds this lock.
AST_LOCK = threading.RLock()

# Calls written out in the compiled code for their common case (X, Y: the checked arguments; v, w: fresh
# temps); anything else goes through the registry function itself, so the result is always the function's.
_INLINE_CALLS: Mapping[tuple[str, int], str] = {
    # text already converted is read from to_decimal's cache
    ("decimal", 1): "{w} if _type(({v} := X)) is _str and ({w} := _pget({v})) is not None else _f_decimal({v})",
    # a Decimal rounded to the cent, as round_money does
    ("round_money", 1): "{v}.quantize(_cent, rounding=_half_up) if _type(({v} := X)) is _Decimal "
                        "else _f_round_money({v})",
    # the first value not null or empty (the second is read only when needed)
    ("coalesce", 2): "{v} if ({v} := X) is not None and {v} != '' else "
                     "({w} if ({w} := Y) is not None and {w} != '' else None)",
}


def _inline(text: str, **parts: ast.expr) -> ast.expr:
    """The expression ``text`` with its names ``parts`` replaced by those (already checked) trees."""
    with AST_LOCK:
        tree = ast.parse(text, mode="eval").body

    class Fill(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return parts.get(node.id, node)

    filled: ast.expr = Fill().visit(tree)
    return filled


_BINOP_HELPERS: Mapping[type, str] = {ast.Mult: "_mul", ast.Pow: "_pow", ast.Div: "_div", ast.Add: "_add",
                                       ast.Mod: "_mod"}


def _depth(tree: ast.AST) -> int:
    return depth(tree, ast.iter_child_nodes)


def _parse(src: Src) -> ast.expr | RuleError:
    text = src.text.strip()
    if not text:
        return RuleError("E404", "empty expression", src.loc, src.path)
    if len(text) > MAX_EXPRESSION:
        return RuleError("E405", f"expression is {len(text)} characters long, over the {MAX_EXPRESSION}-character "
                         f"limit: {text[:60]!r}...", src.loc, src.path, hint="split it into vars")
    try:
        with AST_LOCK:
            parsed = simpleeval.SimpleEval().parse(text)
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        return RuleError("E404", f"expression syntax error{where}: {exc.msg} in {src.text!r}", src.loc, src.path)
    except (RecursionError, MemoryError):
        parsed = None
    # Checked with ast's own nodes, before any recursive walk: each expression node is about two levels.
    if parsed is None or _depth(parsed) > 2 * MAX_DEPTH:
        return RuleError("E405", f"expression nests deeper than {MAX_DEPTH} levels: {text[:60]!r}", src.loc, src.path,
                         hint="split it into vars")
    if isinstance(parsed, ast.Expr):
        return parsed.value
    return RuleError("E404", f"expected an expression, got a statement: {src.text!r}", src.loc, src.path)


def compile_expr(src: Src, env: ExprEnv) -> CompiledExpr | list[RuleError]:
    """Check and compile one expression; returns the errors instead when it is not valid."""
    parsed = _parse(src)
    if isinstance(parsed, RuleError):
        return [parsed]
    number = next(_counter)
    checker = _Checker(src, env, number)
    body = checker.visit(parsed)
    if checker.errors:
        return checker.errors
    used = sorted(checker.used)
    pristine = copy.deepcopy(body)
    loads: list[ast.stmt] = [
        ast.Assign([ast.Name(SCOPE_PREFIX + name, ast.Store())],
                   ast.Subscript(ast.Name("_s", ast.Load()), ast.Constant(name), ast.Load()))
        for name in used
    ]
    func_name = f"_expr{number}"
    filename = f"<expr#{number}>"
    func = ast.FunctionDef(
        name=func_name,
        args=ast.arguments(posonlyargs=[], args=[ast.arg("_s")], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*loads, ast.Return(body)], decorator_list=[], returns=None,
    )
    module = ast.fix_missing_locations(ast.Module([func], type_ignores=[]))
    namespace: dict[str, Any] = {**_BASE_GLOBALS, **checker.constants}
    try:
        with AST_LOCK:
            code = compile(module, filename, "exec")
        exec(code, namespace)
    except (SyntaxError, ValueError, TypeError) as exc:
        return [RuleError("E404", f"cannot compile expression {src.text!r}: {exc}", src.loc, src.path)]
    SOURCES[filename] = src
    compiled = CompiledExpr(src, namespace[func_name], frozenset(used), tuple(dict.fromkeys(checker.settings)),
                            tuple(dict.fromkeys(checker.tables)), pristine, dict(checker.constants))
    if not used and not checker.tables:
        # A constant expression is evaluated now, so `9**9**9` or `'a' * 10**9` fails at compile time.
        start_record()
        try:
            compiled({})
        except (EvalFailure, MemoryError, RecursionError) as exc:
            return [RuleError("E405", f"{_describe(exc)} in expression {src.text!r}", src.loc, src.path)]
        except EVAL_ERRORS:
            pass  # e.g. `'a' + 1`: the same error comes back, located, for every record that evaluates it
        finally:
            end_record()
    return compiled


def inline_body(expr: CompiledExpr, names: Mapping[str, str], line: int) -> ast.expr:
    """A fresh copy of ``expr``'s checked tree for inlining: scope name ``x`` read from the local ``names[x]``,
    every node on ``line`` (so a runtime error there is placed on this expression). KeyError: a name not given."""
    assert expr.body is not None
    tree = copy.deepcopy(expr.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith(SCOPE_PREFIX):
            node.id = names[node.id[len(SCOPE_PREFIX):]]
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
            node.col_offset, node.end_col_offset = 0, 1  # type: ignore[attr-defined]
    return tree


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EvalFailure):
        return str(exc)
    return "out of memory" if isinstance(exc, MemoryError) else "nesting too deep"


# What evaluating an expression may raise; each becomes a located record error, never a traceback.
EVAL_ERRORS: tuple[type[BaseException], ...] = (
    EvalFailure, TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError, RecursionError,
    MemoryError,
)
