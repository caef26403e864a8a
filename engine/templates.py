"""Templates: Jinja2 in a sandbox, strict about undefined names, compiled once.

Undeclared variables and unknown filters are compile errors at the template's location. ``*`` and
``**`` are intercepted and bounded, risky globals (range, lipsum, cycler, joiner, namespace) are
removed and only a whitelist of filters is offered, so no template can build an unbounded string.
``None`` renders as an empty string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import RuleError
from engine.expressions import ExprEnv
from engine.functions import MAX_POWER, MAX_STRING, EvalFailure, add_days, date, round_money
from engine.model import Src
from engine.validate import did_you_mean

__all__ = ["CompiledTemplate", "compile_template"]

_FILTERS = (
    "lower", "upper", "title", "capitalize", "trim", "default", "join", "length", "first", "last", "abs", "round",
    "int", "string", "truncate", "replace", "sum", "list", "striptags", "urlencode", "min", "max",
)


def _bounded_replace(value: Any, old: str, new: str, count: Any = None) -> str:
    """Replace occurrences of ``old`` by ``new`` (at most ``count`` times); the result is length-bounded."""
    out = str(value).replace(old, new) if count is None else str(value).replace(old, new, int(count))
    if len(out) > MAX_STRING:
        raise EvalFailure(f"replace would build more than {MAX_STRING} characters")
    return out


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, Decimal)) and abs(right) > MAX_POWER:  # type: ignore[operator]
            raise EvalFailure(f"exponent {right} is larger than {MAX_POWER}")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_STRING:
                    raise EvalFailure(f"repetition would build more than {MAX_STRING} items")
        return super().call_binop(context, operator, left, right)


def _make_env() -> _Env:
    env = _Env(undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=False)
    env.globals.clear()
    kept = {name: env.filters[name] for name in _FILTERS if name in env.filters}
    kept["replace"] = _bounded_replace
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


def compile_template(src: Src, env: ExprEnv) -> CompiledTemplate | list[RuleError]:
    """Check and compile one template; returns the errors instead when it is not valid."""
    try:
        tree = _ENV.parse(src.text)
    except jinja2.TemplateSyntaxError as exc:
        return [RuleError("E404", f"template syntax error (template line {exc.lineno}): {exc.message} "
                          f"in {src.text!r}", src.loc, src.path)]
    errors: list[RuleError] = []
    for node in tree.find_all(jinja2.nodes.Filter):
        if node.name not in _ENV.filters:
            errors.append(RuleError("E402", f"unknown filter {node.name!r} in template {src.text!r}", src.loc,
                                    src.path, hint=did_you_mean(node.name, _ENV.filters)
                                    or f"filters: {', '.join(sorted(_ENV.filters))}"))
    for getattr_node in tree.find_all(jinja2.nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            errors.append(RuleError("E403", f"attribute {getattr_node.attr!r} is not allowed in template {src.text!r}",
                                    src.loc, src.path))
    if errors:
        return errors
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in env.names:
            hint = did_you_mean(name, env.names) or f"names available here: {', '.join(sorted(env.names))}"
            errors.append(RuleError("E401", f"undefined variable {name!r} in template {src.text!r}", src.loc,
                                    src.path, hint=hint))
    if errors:
        return errors
    try:
        template = _ENV.from_string(tree)
    except jinja2.TemplateError as exc:
        return [RuleError("E404", f"template error: {exc} in {src.text!r}", src.loc, src.path)]
    used = frozenset(meta.find_undeclared_variables(tree))
    render = template.render
    fast = _fast_render(tree)

    def run(scope: Mapping[str, Any]) -> str:
        if fast is not None:
            out = fast(scope)
            if out is not None:
                if len(out) > MAX_STRING:
                    raise EvalFailure(f"template output is longer than {MAX_STRING} characters")
                return out
        try:
            out = render(scope)
        except jinja2.UndefinedError as exc:
            raise EvalFailure(str(exc.message)) from None
        except jinja2.exceptions.SecurityError as exc:  # unsafe attribute access
            raise EvalFailure(f"unsafe template operation: {exc}") from None
        if len(out) > MAX_STRING:
            raise EvalFailure(f"template output is longer than {MAX_STRING} characters")
        return out

    if not used:
        try:
            run({})
        except EvalFailure as exc:
            return [RuleError("E405", f"{exc} in template {src.text!r}", src.loc, src.path)]
    return CompiledTemplate(src, run, used, _settings_used(tree))
