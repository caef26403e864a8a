"""The declared API as frozen values: an ``http`` connection's options, checked and with templates compiled.

Templates (base URL, headers, params, paths) are compiled once over ``settings`` (write paths also see
``target_id``) so a bad template fails when the connector is built, not half-way through a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.http.errors import Where, fail
from engine.errors import PasserelleError
from engine.expressions import ExprEnv
from engine.functions import EvalFailure
from engine.model import Connection, Src
from engine.templates import CompiledTemplate, compile_template

__all__ = ["ApiSpec", "CursorSpec", "Paginate", "ResourceSpec", "WriteSpec", "parse_spec", "render"]

_SETTINGS = ExprEnv(frozenset({"settings"}))
_WRITE = ExprEnv(frozenset({"settings", "target_id"}))


@dataclass(frozen=True)
class Paginate:
    style: str = "none"
    param: str | None = None
    size_param: str | None = None
    size: int = 100
    next: str | None = None
    pages: str | None = None


@dataclass(frozen=True)
class CursorSpec:
    param: str
    field: str


@dataclass(frozen=True)
class WriteSpec:
    method: str
    path: CompiledTemplate
    wrap: str | None = None


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    path: CompiledTemplate
    records: str | None
    id: str
    params: Mapping[str, CompiledTemplate]
    paginate: Paginate
    cursor: CursorSpec | None
    writes: Mapping[str, WriteSpec]  # "create" / "update"


@dataclass(frozen=True)
class ApiSpec:
    connection: str
    where: Where
    base_url: CompiledTemplate
    auth: Mapping[str, Any]
    headers: Mapping[str, CompiledTemplate]
    resources: Mapping[str, ResourceSpec] = field(default_factory=dict)


def _compile(conn: Connection, text: Any, path: tuple[str, ...], env: ExprEnv = _SETTINGS) -> CompiledTemplate:
    compiled = compile_template(Src(str(text), conn.loc, ("connections", conn.name, *path)), env)
    if isinstance(compiled, list):
        raise PasserelleError(compiled)
    return compiled


def _resource(conn: Connection, name: str, options: Mapping[str, Any]) -> ResourceSpec:
    at = ("resources", name)
    paginate = options.get("paginate") or {}
    cursor = options.get("cursor")
    writes = {kind: WriteSpec(str(w["method"]).upper(), _compile(conn, w["path"], (*at, "write", kind, "path"), _WRITE),
                              w.get("wrap"))
              for kind, w in (options.get("write") or {}).items()}
    return ResourceSpec(
        name=name, path=_compile(conn, options["path"], (*at, "path")), records=options.get("records"),
        id=str(options.get("id") or "id"),
        params={key: _compile(conn, value, (*at, "params", key)) for key, value in (options.get("params") or {}).items()},
        paginate=Paginate(str(paginate.get("style", "none")), paginate.get("param"), paginate.get("size_param"),
                          int(paginate.get("size", 100)), paginate.get("next"), paginate.get("pages")),
        cursor=CursorSpec(str(cursor["param"]), str(cursor["field"])) if cursor else None,
        writes=writes)


def parse_spec(conn: Connection) -> ApiSpec:
    """Check and compile a connection's declaration (already schema-validated by the pipeline)."""
    options = conn.options
    where = Where(conn.name, conn.loc)
    if not options.get("base_url"):
        raise fail("E903", where, "no base_url", hint="declare base_url: https://api.example.com")
    return ApiSpec(
        connection=conn.name, where=where, base_url=_compile(conn, options["base_url"], ("base_url",)),
        auth=options.get("auth") or {"type": "none"},
        headers={key: _compile(conn, value, ("headers", key)) for key, value in (options.get("headers") or {}).items()},
        resources={name: _resource(conn, name, opts) for name, opts in (options.get("resources") or {}).items()})


def render(template: CompiledTemplate, scope: Mapping[str, Any], where: Where, what: str) -> str:
    """Render one declared template; a failure (e.g. a setting the profile does not set) names the template."""
    try:
        return template(scope)
    except EvalFailure as exc:
        raise fail("E903", where, f"{what} template {template.src.text!r} failed: {exc}",
                   hint="check the settings it uses") from None
