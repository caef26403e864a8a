"""Templates: Jinja2 in a sandbox, strict about undefined names, compiled once.

Undeclared variables and unknown filters are compile errors at the template's location, and so are
``include``/``extends``/``import`` (a template is one string, it loads nothing), method calls and
recursive loops. Risky globals (range, lipsum, cycler, joiner, namespace) are removed and only a
whitelist of filters is offered. What a template builds is bounded like an expression's: ``+ * ** %``
go through the expression compiler's measuring helpers, ``~`` measures its parts before joining,
every loop item and macro call is charged to the record's work budget, and the output is counted
while it streams, so no template can build an unbounded string or run forever.
``None`` renders as an empty string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment

from engine.bounds import (
    MAX_DEPTH,
    MAX_EXPRESSION,
    MAX_STRING,
    EvalFailure,
    charge,
    depth,
    end_record,
    size_of,
    start_record,
)
from engine.errors import Loc, RuleError
from engine.expressions import BOUNDED_BINOPS, ExprEnv
from engine.failures import plain_message, template_line
from engine.functions import add_days, date, replace_text, round_money
from engine.model import Src
from engine.validate import did_you_mean

__all__ = ["CompiledTemplate", "compile_template"]

_FILTERS = (
    "lower", "upper", "title", "capitalize", "trim", "default", "join", "length", "first", "last", "abs", "round",
    "int", "string", "truncate", "replace", "sum", "list", "striptags", "urlencode", "min", "max",
)


def _bounded_replace(value: Any, old: str, new: str, count: Any = None) -> str:
    """Replace occurrences of ``old`` by ``new`` (at most ``count`` times); the result is length-bounded."""
    return replace_text(str(value), str(old), str(new), -1 if count is None else int(count))


def _charged(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter over a list, charged for walking it (a list filter inside a loop is quadratic)."""
    passes = getattr(fn, "jinja_pass_arg", None)  # Jinja's own filters may take the environment first
    position = 0 if passes is None else 1

    def filter_(*args: Any, **kwargs: Any) -> Any:
        value = args[position]
        if isinstance(value, (list, tuple, str, dict)):
            charge(len(value))
        return fn(*args, **kwargs)

    if passes is not None:
        filter_.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return filter_


def _text(value: Any) -> str:
    """``str(value)``, refused when the text would be over MAX_STRING (measured before it is built)."""
    if isinstance(value, (list, tuple, dict)) and size_of(value) > MAX_STRING:
        raise EvalFailure(f"template text would be longer than {MAX_STRING} characters")
    return "" if value is None else str(value)


def _join(value: Any, d: str = "", attribute: Any = None) -> str:
    parts = [_text(v) for v in _charged(list)(value)]
    if sum(map(len, parts)) + len(d) * max(len(parts) - 1, 0) > MAX_STRING:
        raise EvalFailure(f"join would build more than {MAX_STRING} characters")
    return str(d).join(parts)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class _Codegen(CodeGenerator):
    """Jinja's code generator, with ``a ~ b`` joined by the environment's bounded ``concat``."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset(BOUNDED_BINOPS)
    code_generator_class = _Codegen

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return BOUNDED_BINOPS[operator](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        charge(1)  # macro calls: recursion and fan-out draw on the record's budget
        return super().call(__context, __obj, *args, **kwargs)

    @staticmethod
    def bounded_concat(parts: tuple[Any, ...]) -> str:
        texts = [_text(p) for p in parts]
        size = sum(map(len, texts))
        if size > MAX_STRING:
            raise EvalFailure(f"~ would build more than {MAX_STRING} characters")
        charge(size)
        return "".join(texts)

    @staticmethod
    def bounded_iter(values: Any) -> Any:
        """A loop's iterable, charged one unit per item."""
        if hasattr(values, "__len__"):
            charge(len(values))
        return values


def _make_env() -> _Env:
    env = _Env(undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=False)
    env.globals.clear()
    kept = {name: env.filters[name] for name in _FILTERS if name in env.filters}
    kept.update({name: _charged(kept[name]) for name in ("sum", "min", "max", "list") if name in kept})
    kept["replace"] = _bounded_replace
    kept["join"] = _join
    kept.update({"money": round_money, "date": date, "add_days": add_days})
    env.filters.clear()
    env.filters.update(kept)
    return env


_ENV = _make_env()


@dataclass(frozen=True)
class CompiledTemplate:
    src: Src
    fn: Callable[[Mapping[str, Any]], str]
    names: frozenset[str]
    settings: tuple[str, ...]

    def __call__(self, scope: Mapping[str, Any]) -> str:
        return self.fn(scope)


def _settings_used(tree: jinja2.nodes.Template) -> tuple[str, ...]:
    found = [node.attr for node in tree.find_all(jinja2.nodes.Getattr)
             if isinstance(node.node, jinja2.nodes.Name) and node.node.name == "settings"]
    return tuple(dict.fromkeys(found))


_DICT_ATTRS = frozenset(dir(dict)) | frozenset(dir(MappingProxyType))  # read by Jinja as attributes, not keys
_PLAIN_MAPPINGS = (dict, MappingProxyType)
_Part = str | tuple[str, tuple[str, ...]]


def _fast_render(tree: jinja2.nodes.Template) -> Callable[[Mapping[str, Any]], str | None] | None:
    """A plain-Python renderer for templates made of text and ``{{ name.attr.attr }}`` only, or None.

    It gives Jinja's own output (``None`` renders as "", anything else as ``str(value)``) whenever
    every step reads an existing key of a plain dict (or mappingproxy); otherwise it returns None and the caller
    renders with Jinja, which then raises exactly the error it would have raised.
    """
    if len(tree.body) != 1 or not isinstance(tree.body[0], jinja2.nodes.Output):
        return None
    parts: list[_Part] = []
    for child in tree.body[0].nodes:
        if isinstance(child, jinja2.nodes.TemplateData):
            parts.append(child.data)
            continue
        attrs: list[str] = []
        node: jinja2.nodes.Node = child
        while isinstance(node, jinja2.nodes.Getattr):
            attrs.append(node.attr)
            node = node.node
        if not isinstance(node, jinja2.nodes.Name) or any(a in _DICT_ATTRS for a in attrs):
            return None
        parts.append((node.name, tuple(reversed(attrs))))
    frozen = tuple(parts)

    def fast(scope: Mapping[str, Any]) -> str | None:
        out: list[str] = []
        for part in frozen:
            if isinstance(part, str):
                out.append(part)
                continue
            root, attrs = part
            if root not in scope:
                return None
            value = scope[root]
            for attr in attrs:
                if type(value) not in _PLAIN_MAPPINGS or attr not in value:
                    return None
                value = value[attr]
            out.append("" if value is None else str(value))
        return "".join(out)

    return fast


# Statements that would load another template: a pack's template is one string and loads nothing.
_LOADING: Mapping[type, str] = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import",
                                nodes.FromImport: "from ... import"}


def _depth(tree: nodes.Node) -> int:
    return depth(tree, nodes.Node.iter_child_nodes)


def _parse(src: Src) -> nodes.Template | RuleError:
    if len(src.text) > MAX_EXPRESSION:
        return RuleError("E405", f"template is {len(src.text)} characters long, over the {MAX_EXPRESSION}-character "
                         f"limit: {src.text[:60]!r}...", src.loc, src.path)
    try:
        tree = _ENV.parse(src.text)
    except jinja2.TemplateSyntaxError as exc:
        return RuleError("E404", f"template syntax error (template line {exc.lineno}): {exc.message} "
                         f"in {src.text!r}", src.loc, src.path)
    except (RecursionError, MemoryError):
        tree = None
    if tree is None or _depth(tree) > 2 * MAX_DEPTH:
        return RuleError("E405", f"template nests deeper than {MAX_DEPTH} levels: {src.text[:60]!r}", src.loc,
                         src.path)
    return tree


def _refused(tree: nodes.Template, src: Src) -> list[RuleError]:
    """Statements and calls a template may not use, each a located error."""
    errors: list[RuleError] = []

    def fail(code: str, message: str, hint: str | None = None) -> None:
        errors.append(RuleError(code, f"{message} in template {src.text!r}", src.loc, src.path, hint=hint))

    for statement in tree.find_all(nodes.Stmt):
        if type(statement) in _LOADING:
            fail("E403", f"`{_LOADING[type(statement)]}` is not allowed", "a template is one string: it loads no other")
        elif isinstance(statement, nodes.For) and statement.recursive:
            fail("E403", "recursive loops are not allowed")
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name):
            fail("E403", "method calls are not allowed", "use a filter, e.g. {{ x | upper }}")
    for node in tree.find_all(nodes.Filter):
        if node.name not in _ENV.filters:
            fail("E402", f"unknown filter {node.name!r}", did_you_mean(node.name, _ENV.filters)
                 or f"filters: {', '.join(sorted(_ENV.filters))}")
    for getattr_node in tree.find_all(nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            fail("E403", f"attribute {getattr_node.attr!r} is not allowed")
    return errors


def _unknown_settings(tree: nodes.Template, src: Src, env: ExprEnv) -> list[RuleError]:
    """``settings.X`` / ``settings['X']`` naming no declared setting, each an E401 with a did-you-mean."""
    declared = env.settings
    if declared is None:
        return []
    found: list[tuple[str, int]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "settings":
            found.append((node.attr, node.lineno))
        elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and node.node.name == "settings" \
                and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.append((node.arg.value, node.lineno))
    errors = []
    for name, line in dict.fromkeys(found):
        if name in declared:
            continue
        where = f" (template line {line})" if "\n" in src.text.strip() else ""
        hint = did_you_mean(name, declared) or (f"settings declared: {', '.join(sorted(declared))}" if declared
                                                else "the pack declares no settings")
        errors.append(RuleError("E401", f"unknown setting {name!r}{where} in template {src.text!r}", src.loc,
                                src.path, hint=hint))
    return errors


def _charge_loops(tree: nodes.Template) -> None:
    """Every loop's iterable goes through the environment's ``bounded_iter`` (charged per item)."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None,
                               lineno=loop.lineno)


def compile_template(src: Src, env: ExprEnv) -> CompiledTemplate | list[RuleError]:
    """Check and compile one template; returns the errors instead when it is not valid."""
    tree = _parse(src)
    if isinstance(tree, RuleError):
        return [tree]
    errors = _refused(tree, src)
    if errors:
        return errors
    used = frozenset(meta.find_undeclared_variables(tree))
    for name in sorted(used - env.names):
        hint = did_you_mean(name, env.names) or f"names available here: {', '.join(sorted(env.names))}"
        errors.append(RuleError("E401", f"undefined variable {name!r} in template {src.text!r}", src.loc,
                                src.path, hint=hint))
    if "settings" in used:
        errors.extend(_unknown_settings(tree, src, env))
    if errors:
        return errors
    fast = _fast_render(tree)
    settings = _settings_used(tree)
    _charge_loops(tree)
    try:
        template = _ENV.from_string(tree)
    except jinja2.TemplateError as exc:
        return [RuleError("E404", f"template error: {exc} in {src.text!r}", src.loc, src.path)]
    except (RecursionError, MemoryError):
        return [RuleError("E405", f"template nests too deeply: {src.text[:60]!r}", src.loc, src.path)]
    generate = template.generate

    def run(scope: Mapping[str, Any]) -> str:
        if fast is not None:
            out = fast(scope)
            if out is not None:
                if len(out) > MAX_STRING:
                    raise EvalFailure(f"template output is longer than {MAX_STRING} characters", src.loc)
                return out
        try:
            return _render(generate, scope)
        except EvalFailure as exc:  # placed at the template, which the evaluator cannot find in a traceback
            if exc.loc is None:
                exc.loc = src.loc
            raise
        except MemoryError:
            raise
        except Exception as exc:  # a bad type or value in the data: told in pack terms, at the template's line
            raise _located(exc, src) from None

    if not used:
        start_record()
        try:
            run({})
        except EvalFailure as exc:
            return [RuleError("E405", f"{exc} in template {src.text!r}", src.loc, src.path)]
        except MemoryError:
            return [RuleError("E405", f"out of memory in template {src.text!r}", src.loc, src.path)]
        finally:
            end_record()
    return CompiledTemplate(src, run, used, settings)


def _located(exc: BaseException, src: Src) -> EvalFailure:
    """A runtime failure of the template at ``src``, at the line of the file that holds the failing template
    line: a multi-line template is a block scalar, whose first line follows the one holding its ``|``."""
    line = template_line(exc) or 1
    message = plain_message(exc)
    if "\n" not in src.text.rstrip("\n"):
        return EvalFailure(f"{message} in template {src.text!r}", src.loc)
    loc = Loc(src.loc.file, src.loc.line + line, src.loc.col) if src.loc is not None else None
    shown = src.text.splitlines()[line - 1].strip() if line <= len(src.text.splitlines()) else ""
    return EvalFailure(f"{message} (template line {line}: {shown!r})", loc)


def _render(generate: Callable[[Mapping[str, Any]], Any], scope: Mapping[str, Any]) -> str:
    """Render while counting: output over MAX_STRING stops the template as soon as it gets there."""
    pieces: list[str] = []
    size = 0
    try:
        for piece in generate(scope):
            size += len(piece)
            if size > MAX_STRING:
                raise EvalFailure(f"template output is longer than {MAX_STRING} characters")
            pieces.append(piece)
    except jinja2.exceptions.SecurityError as exc:  # unsafe attribute access
        raise EvalFailure(f"unsafe template operation: {exc}") from None
    except RecursionError:
        raise EvalFailure("template recursion is too deep (a macro calling itself?)") from None
    charge(size)
    return "".join(pieces)
