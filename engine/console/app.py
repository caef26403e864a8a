"""The web console: server-rendered pages over the service's store and commands (Starlette + Jinja2).

Every button posts to an endpoint here that calls what the CLI calls (``run_connect``, ``run_checks`` /
``prepare_fix`` / ``apply_fix``, ``Session.plan``, the job queue's ``defer`` as ``passerelle enqueue`` and
``POST /jobs`` do, ``suspension.suspend``/``resume``, ``set_error_status``); the console computes
nothing of its own. Mounted at ``/console`` by ``engine/fleet/app.py``; see docs/console.md.

| route | what |
|---|---|
| ``GET /login``, ``POST /login``, ``POST /logout`` | sign in with the admin token (or console password) |
| ``GET /share/{token}`` | a read-only link to one profile |
| ``GET /`` | every profile with its health; ``?q=`` search, ``?state=`` filter |
| ``GET /p/{pack}/{name}`` | a profile: company, switch, settings form, errors, jobs, runs, suspension |
| ``POST /p/{pack}/{name}/connect`` | the OAuth flow of ``passerelle connect`` (browserless against a sandbox) |
| ``POST /p/{pack}/{name}/enabled`` | switch on/off (``enabled:`` in the profile, O2) |
| ``POST /p/{pack}/{name}/settings`` | settings saved as the profile's overlay, validated as ``passerelle validate`` |
| ``GET /p/{pack}/{name}/checks``, ``POST …/checks/{check}/fix`` | prerequisite checks, fixes, retry (G6) |
| ``GET /p/{pack}/{name}/preview`` | the plan as a table (G3, E1), and the launch button (G5) |
| ``POST /p/{pack}/{name}/jobs`` | ``kind`` first, manual (sync now / retry all) or resync (``record``: error id, G11) |
| ``GET /p/{pack}/{name}/progress.json?job=`` | a job's state and its run's progress |
| ``POST /p/{pack}/{name}/suspend``, ``…/resume`` | suspend until a date, resume (G9) |
| ``POST /p/{pack}/{name}/errors/{id}/resolve`` | mark an error resolved (``passerelle errors resolve``) |
| ``POST /p/{pack}/{name}/share`` | make a read-only link |
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engine.build import thaw
from engine.console.auth import Auth, Viewer, console_secret
from engine.console.overlay import FieldError, parse_form_value, save_enabled, save_settings, save_table, table_key
from engine.errors import PasserelleError
from engine.fleet.deployment import Entry
from engine.fleet.jobs import JobSpec
from engine.fleet.progress import progress_stream
from engine.fleet.service import Service
from engine.fleet.status import fleet_status
from engine.runtime import suspension
from engine.runtime.checks import CheckResult, Fix, apply_fix, prepare_fix, run_checks
from engine.runtime.choices import Choice, check_choice, read_choices
from engine.runtime.decide import decide_conflict
from engine.runtime.history import list_errors, set_error_status
from engine.runtime.plan import Change, Plan
from engine.runtime.plan import summary as plan_summary
from engine.runtime.render import _value as show_value
from engine.runtime.tables import check_row_choice, table_choices, table_ref_field
from engine.store.tables import runs

__all__ = ["PREFIX", "create_console"]

log = logging.getLogger("passerelle.console")

PREFIX = "/console"
HERE = Path(__file__).parent
STATES = {
    "all": "every profile", "attention": "needs attention", "errors": "with open errors", "off": "switched off",
    "suspended": "suspended", "unconnected": "not connected", "broken": "does not compile", "ok": "running fine",
}
ACTION_WORDS = {"create": "create", "adopt": "adopt (already in QBO)", "update": "update", "void": "void",
                "delete": "delete", "conflict": "conflict", "skip": "skip", "error": "record error",
                "attach": "send attachments again", "resolve": "close errors (fixed)"}
CHOICE_ERROR = "E820"

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["prefix"] = PREFIX
templates.env.filters["show"] = show_value


def _when(value: Any) -> str:
    if value is None or value == "":
        return "—"
    moment: object = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, dt.datetime):
        aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(moment)


templates.env.filters["when"] = _when


def _fault_message(exc: Exception) -> str:
    fault = getattr(exc, "fault", None)
    if fault is not None:
        hint = getattr(fault, "hint", None)
        return f"{getattr(fault, 'message', str(exc))}" + (f" ({hint})" if hint else "")
    if isinstance(exc, PasserelleError):
        return "; ".join(e.message for e in exc.errors)
    return f"{type(exc).__name__}: {exc}"


# -- plumbing ----------------------------------------------------------------------------------------
@dataclass
class Console:
    service: Service
    auth: Auth

    def entry(self, key: str) -> Entry | None:
        """The profile as on disk now (compiled again when its files changed since the last scan)."""
        return self.service.deployment.fresh(key)


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _flash(request: Request, message: str, level: str = "info") -> None:
    request.session.setdefault("flash", []).append({"message": message, "level": level})


def _render(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    console = _console(request)
    flashes = request.session.pop("flash", [])
    return templates.TemplateResponse(request, name, {
        "viewer": getattr(request.state, "viewer", None), "csrf": console.auth.csrf_token(request),
        "flashes": flashes, **context}, status_code=status)


Handler = Callable[[Request], Awaitable[Response]]


def page(handler: Handler, *, admin: bool = True, profile: bool = False) -> Handler:
    """Signed-in only; ``admin`` pages refuse read-only visitors; a ``profile`` page needs a known profile."""

    async def wrapped(request: Request) -> Response:
        console = _console(request)
        viewer = console.auth.viewer(request)
        if viewer is None:
            if request.method == "GET":
                return RedirectResponse(f"{PREFIX}/login?" + urlencode({"next": request.url.path}), 303)
            return HTMLResponse("sign in first", 401)
        request.state.viewer = viewer
        if profile:
            key = f"{request.path_params['pack']}/{request.path_params['name']}"
            if not viewer.may_see(key):
                return _render(request, "message.html", {"title": "Not allowed",
                                                         "message": "This link shows another profile."}, 403)
            if console.entry(key) is None:
                return _render(request, "message.html", {"title": "No such profile",
                                                         "message": f"No profile {key} in this deployment."}, 404)
        if admin and not viewer.admin:
            return _render(request, "message.html", {"title": "Read-only",
                                                     "message": "This link only shows the profile's page."}, 403)
        if request.method == "POST":
            form = await request.form()
            if not console.auth.csrf_ok(request, form):
                return _render(request, "message.html", {"title": "Form expired",
                                                         "message": "The form was too old or not ours: "
                                                                    "reload the page and try again."}, 403)
            request.state.form = form
        return await handler(request)

    return wrapped


def _key(request: Request) -> str:
    return f"{request.path_params['pack']}/{request.path_params['name']}"


def _profile_url(key: str, tail: str = "") -> str:
    return f"{PREFIX}/p/{key}{tail}"


# -- login -------------------------------------------------------------------------------------------
async def login_form(request: Request) -> Response:
    console = _console(request)
    if console.auth.viewer(request) is not None and request.session.get("admin"):
        return RedirectResponse(f"{PREFIX}/", 303)
    return _render(request, "login.html", {"next": request.query_params.get("next", ""),
                                           "configured": console.auth.configured, "error": None})


def _safe_next(target: str) -> str:
    return target if target.startswith(f"{PREFIX}/") and not target.startswith("//") else f"{PREFIX}/"


async def login(request: Request) -> Response:
    console = _console(request)
    form = await request.form()
    next_url = _safe_next(str(form.get("next") or ""))
    if not console.auth.csrf_ok(request, form):
        return _render(request, "login.html", {"next": next_url, "configured": console.auth.configured,
                                               "error": "The form expired: try again."}, 403)
    if not console.auth.check_password(str(form.get("token") or "")):
        log.warning("console: failed login from %s", request.client.host if request.client else "?")
        return _render(request, "login.html", {"next": next_url, "configured": console.auth.configured,
                                               "error": "Wrong token or password."}, 401)
    console.auth.log_in(request)
    return RedirectResponse(next_url, 303)


async def logout(request: Request) -> Response:
    form = await request.form()
    console = _console(request)
    if console.auth.csrf_ok(request, form):
        console.auth.log_out(request)
    return RedirectResponse(f"{PREFIX}/login", 303)


async def open_share(request: Request) -> Response:
    profile = _console(request).auth.open_link(request, request.path_params["token"])
    if profile is None:
        return _render(request, "message.html", {"title": "Link expired",
                                                 "message": "This read-only link is not valid any more."}, 403)
    return RedirectResponse(_profile_url(profile), 303)


# -- profiles ----------------------------------------------------------------------------------------
def _state(health: Mapping[str, Any]) -> list[str]:
    states = []
    if health.get("error"):
        states.append("broken")
    if not health.get("enabled", True):
        states.append("off")
    if not health.get("realm"):
        states.append("unconnected")
    if health.get("suspended_until"):
        states.append("suspended")
    if health.get("open_errors"):
        states.append("errors")
    last = health.get("last_run") or {}
    if last.get("status") == "failed":
        states.append("errors")
    return states or ["ok"]


def _status(console: Console, key: str | None = None) -> dict[str, Any]:
    service = console.service
    found: dict[str, Any] = fleet_status(service.store, service.deployment, service.queue, key)["profiles"]
    return found


async def profiles(request: Request) -> Response:
    console = _console(request)
    status = await run_in_threadpool(_status, console)
    query = request.query_params.get("q", "").strip()
    wanted = request.query_params.get("state", "all")
    rows = []
    for key, health in status.items():
        states = _state(health)
        if query and query.casefold() not in f"{key} {health.get('realm') or ''}".casefold():
            continue
        if wanted == "attention" and states == ["ok"]:
            continue
        if wanted not in ("all", "attention") and wanted not in states:
            continue
        rows.append({"key": key, "health": health, "states": states, "linked": not key.startswith("?")})
    return _render(request, "profiles.html", {"rows": rows, "q": query, "state": wanted, "states": STATES,
                                              "total": len(status)})


# -- one profile ---------------------------------------------------------------------------------------
@dataclass
class FieldView:
    name: str
    kind: str          # text, number, date, checkbox, select, multi, lines
    label: str
    description: str
    value: Any
    layer: str
    options: list[Choice]
    note: str | None = None
    errors: tuple[FieldError, ...] = ()


def _choices(console: Console, entry: Entry) -> tuple[dict[str, list[Choice]], str | None]:
    """Every setting's choices read live from QBO (one read per entity), or why they could not be read."""
    settings, _, note = _live_choices(console, entry)
    return settings, note


def _live_choices(console: Console, entry: Entry, *, tables: bool = False
                  ) -> tuple[dict[str, list[Choice]], dict[str, list[Choice]], str | None]:
    """The settings' choices (``choices_from``) and, with ``tables``, the choices of every table whose values
    name QBO records (``refers_to``), from one session's reference data; or why they could not be read."""
    assert entry.loaded is not None
    wanted = {n: s for n, s in entry.loaded.pack.settings.items() if s.choices_from is not None}
    named = {n: t for n, t in entry.loaded.resolved.tables.items() if t.refers_to is not None} if tables else {}
    if not wanted and not named:
        return {}, {}, None
    if not entry.realm:
        return {}, {}, "connect QuickBooks to pick these from the company"
    try:
        with console.service.runner.session(entry) as session:
            refs = session.target.reference_data()
            values = entry.loaded.resolved.setting_values()
            return ({name: read_choices(setting, refs) or [] for name, setting in wanted.items()},
                    {name: table_choices(table, values, refs) or [] for name, table in named.items()}, None)
    except Exception as exc:  # a QBO fault, an expired grant …: the form still works, as free text
        log.info("console: choices of %s: %s", entry.key, exc)
        return {}, {}, f"could not read the choices from QuickBooks: {_fault_message(exc)}"


@dataclass
class TableView:
    name: str
    description: str
    refers: str                       # "Account (expense) by AcctNum", or "" for free values
    rows: list[tuple[int, Any, Any, str, bool]]  # index, key, value, layer, value not among the choices
    options: list[Choice]
    errors: tuple[str, ...] = ()


def _tables(entry: Entry, choices: Mapping[str, list[Choice]], errors: Mapping[str, tuple[str, ...]] | None = None
            ) -> list[TableView]:
    assert entry.loaded is not None
    resolved = entry.loaded.resolved
    out = []
    for name, table in resolved.tables.items():
        ref = table.refers_to
        by = table_ref_field(ref, resolved.setting_values()) if ref is not None else ""
        refers = (f"{ref.entity}{f' ({ref.type})' if ref.type else ''} by {by if isinstance(by, str) else ref.by}"
                  if ref is not None else "")
        options = list(choices.get(name, []))
        allowed = {c.value for c in options}
        rows = [(i, key, thaw(row.value), resolved.table_layers.get((name, key), "pack"),
                 bool(options) and str(thaw(row.value)) not in allowed)
                for i, (key, row) in enumerate(table.rows.items())]
        out.append(TableView(name, table.description, refers, rows, options, (errors or {}).get(name, ())))
    return out


def _fields(entry: Entry, choices: Mapping[str, list[Choice]], note: str | None,
            submitted: Mapping[str, Any] | None = None, errors: tuple[FieldError, ...] = ()) -> list[FieldView]:
    assert entry.loaded is not None
    resolved = entry.loaded.resolved
    out = []
    for name, setting in entry.loaded.pack.settings.items():
        effective = resolved.settings.get(name)
        value = thaw(effective.value) if effective is not None else None
        if submitted is not None and name in submitted:
            value = submitted[name]
        layer = effective.layer if effective is not None else "unset"
        options: list[Choice] = []
        field_note = None
        if setting.type == "boolean":
            kind = "checkbox"
        elif setting.choices_from is not None and name in choices:
            kind, options = "select", list(choices[name])
            if value not in (None, "") and str(value) not in {c.value for c in options}:
                options.insert(0, Choice(str(value), f"{value} (not in QuickBooks)"))
            if not setting.has_default or value in (None, ""):
                options.insert(0, Choice("", "— none —"))
        elif setting.choices_from is not None:
            kind, field_note = "text", note
        elif setting.enum:
            kind, options = "select", [Choice(str(v), str(v)) for v in setting.enum]
        elif setting.type == "list" and setting.items_enum:
            kind, options = "multi", [Choice(str(v), str(v)) for v in setting.items_enum]
        elif setting.type == "list":
            kind = "lines"
        elif setting.type == "date":
            kind = "date"
        elif setting.type in ("integer", "number", "decimal", "money"):
            kind = "number"
        else:
            kind = "text"
        mine = tuple(e for e in errors if e.field == name)
        out.append(FieldView(name, kind, name.replace("_", " "), setting.description, value, layer, options,
                             field_note, mine))
    return out


def _recent_runs(console: Console, key: str, limit: int = 15) -> list[Any]:
    with console.service.store.engine.connect() as conn:
        return list(conn.execute(sa.select(runs).where(runs.c.profile == key).order_by(runs.c.id.desc())
                                 .limit(limit)).all())


def _profile_context(console: Console, key: str, *, with_choices: bool = True) -> dict[str, Any]:
    entry = console.entry(key)
    assert entry is not None
    health = _status(console, key).get(key, {})
    context: dict[str, Any] = {
        "key": key, "entry": entry, "health": health, "states": _state(health),
        "errors": list_errors(console.service.store, key),
        "jobs": console.service.queue.jobs(profile=key, limit=15), "runs": _recent_runs(console, key),
        "today": dt.date.today().isoformat(), "pack": None, "fields": [], "choices": {}, "choices_note": None,
        "tables": [],
    }
    if entry.loaded is not None:
        context["pack"] = entry.loaded.pack
        choices, table_options, note = _live_choices(console, entry, tables=True) if with_choices else ({}, {}, None)
        context.update(choices=choices, choices_note=note, fields=_fields(entry, choices, note),
                       tables=_tables(entry, table_options))
    return context


async def profile_page(request: Request) -> Response:
    console = _console(request)
    viewer: Viewer = request.state.viewer
    context = await run_in_threadpool(_profile_context, console, _key(request), with_choices=viewer.admin)
    return _render(request, "profile.html", context)


def _form(request: Request) -> FormData:
    form: FormData = request.state.form
    return form


async def connect(request: Request) -> Response:
    from connectors.qbo.cli import run_connect
    from connectors.qbo.profile import qbo_connection

    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None and entry.loaded is not None
    connection = qbo_connection(entry.loaded.resolved)
    if not connection.may_auto_approve:
        _flash(request, "Connecting to Intuit needs a browser on the service's machine: run "
                        f"`passerelle connect {entry.path}` there (the state store is shared).", "error")
        return RedirectResponse(_profile_url(key), 303)
    said: list[str] = []
    try:
        realm = await run_in_threadpool(run_connect, str(entry.path), browser=False, timeout=30,
                                        echo=lambda text: said.append(str(text)))
    except Exception as exc:
        _flash(request, f"Not connected: {_fault_message(exc)}", "error")
        return RedirectResponse(_profile_url(key), 303)
    await run_in_threadpool(console.service.deployment.scan)
    _flash(request, f"Connected to QuickBooks company {realm}; the tokens are stored encrypted.")
    return RedirectResponse(_profile_url(key), 303)


async def set_enabled(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    on = _form(request).get("enabled") == "on"
    result = await run_in_threadpool(save_enabled, entry.path, on)
    if result.ok:
        await run_in_threadpool(console.service.deployment.scan)
        _flash(request, "The integration is switched on." if on else
               "The integration is switched off: no automatic or event sync runs until it is switched on.")
    else:
        _flash(request, "Not saved: " + "; ".join(e.message for e in result.errors), "error")
    return RedirectResponse(_profile_url(key), 303)


def _save(console: Console, entry: Entry, form: FormData) -> tuple[Any, dict[str, Any], tuple[FieldError, ...],
                                                                  dict[str, list[Choice]], str | None]:
    assert entry.loaded is not None
    declared = entry.loaded.pack.settings
    values: dict[str, Any] = {}
    for name, setting in declared.items():
        if f"f.{name}" not in form:
            continue
        values[name] = parse_form_value(setting, [str(v) for v in form.getlist(f"s.{name}")])
    choices, note = _choices(console, entry)
    extra = []
    for name, value in values.items():
        problem = check_choice(declared[name], value, choices.get(name, []))
        if problem:
            extra.append(FieldError(name, CHOICE_ERROR, f"{entry.path}: error[{CHOICE_ERROR}]: {problem}\n"
                                                        f"  at $.settings.{name}",
                                    "pick one of the accounts QuickBooks lists"))
    result = save_settings(entry.path, entry.loaded, values, extra)
    if result.ok:
        console.service.deployment.scan()
    return result, values, result.errors, choices, note


async def save(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    if entry.loaded is None:
        _flash(request, "This profile does not compile: fix its file first.", "error")
        return RedirectResponse(_profile_url(key), 303)
    result, values, errors, choices, note = await run_in_threadpool(_save, console, entry, _form(request))
    if result.ok:
        _flash(request, f"Settings saved to {entry.path}.")
        return RedirectResponse(_profile_url(key) + "#settings", 303)
    context = await run_in_threadpool(_profile_context, console, key, with_choices=False)
    context.update(choices=choices, choices_note=note, fields=_fields(entry, choices, note, values, errors),
                   settings_errors=[e for e in errors if e.field is None])
    return _render(request, "profile.html", context, 400)


def _save_table(console: Console, entry: Entry, name: str, form: FormData) -> tuple[bool, tuple[str, ...]]:
    """The table form: each row's value (or its removal) and one new row, saved as the profile's change of the
    table (`passerelle table set/remove` write the same). A value that names a QBO record must be one the
    company offers; the whole profile is then validated as `validate` does."""
    assert entry.loaded is not None
    table = entry.loaded.resolved.tables[name]
    current = {key: thaw(row.value) for key, row in table.rows.items()}
    rows: dict[Any, Any] = {}
    for index, key in enumerate(current):
        if form.get(f"rm.{index}") == "1":
            continue
        rows[key] = str(form.get(f"v.{index}", current[key]) or "")
    new_key = str(form.get("new.key") or "").strip()
    if new_key:
        rows[table_key(table, new_key)] = str(form.get("new.value") or "")
    changed = {k: v for k, v in rows.items() if k not in current or str(current[k]) != v}
    problems: list[str] = []
    if table.refers_to is not None and changed:
        _, options, _ = _live_choices(console, entry, tables=True)
        problems = [p for k, v in changed.items() if (p := check_row_choice(table, k, v, options.get(name)))]
    if problems:
        return False, tuple(f"{entry.path}: error[E830]: {p}" for p in problems)
    result = save_table(entry.path, entry.loaded, name, rows)
    if result.ok:
        console.service.deployment.scan()
    return result.ok, tuple(e.message for e in result.errors)


async def save_table_form(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    name = str(request.path_params["table"])
    if entry.loaded is None or name not in entry.loaded.resolved.tables:
        _flash(request, "No such table in this profile's pack." if entry.loaded else
               "This profile does not compile: fix its file first.", "error")
        return RedirectResponse(_profile_url(key), 303)
    ok, errors = await run_in_threadpool(_save_table, console, entry, name, _form(request))
    if ok:
        _flash(request, f"Table {name} saved to {entry.path}.")
        return RedirectResponse(_profile_url(key) + f"#table-{name}", 303)
    context = await run_in_threadpool(_profile_context, console, key)
    context["tables"] = _tables(entry, {t.name: t.options for t in context["tables"]}, {name: errors})
    return _render(request, "profile.html", context, 400)


# -- checks (G6) -----------------------------------------------------------------------------------
def _run_checks(console: Console, entry: Entry) -> tuple[list[CheckResult], dict[str, Fix], str | None]:
    assert entry.loaded is not None
    try:
        with console.service.runner.session(entry) as session:
            pack = session.loaded.compiled
            results = run_checks(pack, session.target)
            fixes = {r.name: prepare_fix(pack, session.target, r.name) for r in results if not r.ok and r.fixable}
            return results, fixes, None
    except Exception as exc:
        return [], {}, _fault_message(exc)


async def checks(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    results, fixes, problem = await run_in_threadpool(_run_checks, console, entry)
    return _render(request, "checks.html", {"key": key, "entry": entry, "results": results, "fixes": fixes,
                                            "problem": problem})


def _fix(console: Console, entry: Entry, name: str) -> tuple[bool, str]:
    with console.service.runner.session(entry) as session:
        pack = session.loaded.compiled
        if name not in pack.checks:
            return False, f"no check {name!r}"
        fix = prepare_fix(pack, session.target, name)
        if fix.error is not None:
            return False, fix.error
        after = apply_fix(pack, session.target, fix)
        return after.ok, (f"Created {fix.label} in QuickBooks." if after.ok else f"The fix failed: {after.message}")


async def fix_check(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    try:
        ok, message = await run_in_threadpool(_fix, console, entry, request.path_params["check"])
    except Exception as exc:
        ok, message = False, _fault_message(exc)
    _flash(request, message, "info" if ok else "error")
    return RedirectResponse(_profile_url(key, "/checks"), 303)


# -- preview (G3, E1) ------------------------------------------------------------------------------
def _plan(console: Console, entry: Entry) -> tuple[Plan | None, str | None]:
    try:
        with console.service.runner.session(entry) as session:
            return session.plan(manual=True), None
    except Exception as exc:
        return None, _fault_message(exc)


def _change_rows(plan: Plan) -> list[dict[str, Any]]:
    order = {"error": 0, "conflict": 1, "create": 2, "adopt": 3, "update": 4, "void": 5, "delete": 6, "skip": 7}
    rows = []
    for change in sorted(plan.changes, key=lambda c: order.get(c.action, 9)):
        rows.append({"change": change, "word": ACTION_WORDS.get(change.action, change.action),
                     "what": change.label or change.key, "diffs": _diffs(change)})
    return rows


def _diffs(change: Change) -> list[tuple[str, Any, Any]]:
    if change.action in ("update", "adopt"):
        return [(d.field, d.before, d.after) for d in change.diffs]
    if change.action == "create":
        return [(d.field, None, d.after) for d in change.diffs]
    return []


async def preview(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    plan, problem = await run_in_threadpool(_plan, console, entry)
    context: dict[str, Any] = {"key": key, "entry": entry, "plan": plan, "problem": problem, "rows": [],
                               "summary": {}, "counts": {}}
    if plan is not None:
        context.update(rows=_change_rows(plan), summary=plan_summary(plan),
                       counts={a: plan.count(a) for a in ACTION_WORDS if plan.count(a)},
                       documents=plan.count("create") + plan.count("adopt"))
    return _render(request, "preview.html", context)


# -- jobs, suspension, errors --------------------------------------------------------------------------
async def add_job(request: Request) -> Response:
    console, key = _console(request), _key(request)
    entry = console.entry(key)
    assert entry is not None
    form = _form(request)
    kind = str(form.get("kind") or "manual")
    record = str(form.get("record")) if form.get("record") else None
    if kind not in ("manual", "first", "resync"):
        return JSONResponse({"error": f"unknown kind {kind!r}"}, 400)
    if kind == "resync" and (record is None or not record.isdigit()):
        return JSONResponse({"error": "a resync needs the error id"}, 400)
    job_id = await run_in_threadpool(console.service.queue.defer, JobSpec(key, kind, entry.realm, record))
    words = {"first": "The first sync", "manual": "A sync of everything", "resync": f"The resync of error #{record}"}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"job": job_id, "progress": _profile_url(key, f"/progress.json?job={job_id}")}, 202)
    _flash(request, f"{words[kind]} is queued as job #{job_id}.")
    return RedirectResponse(_profile_url(key) + "#jobs", 303)


def _progress(console: Console, key: str, job_id: int) -> dict[str, Any]:
    job = next((j for j in console.service.queue.jobs(profile=key, limit=200) if j.id == job_id), None)
    health = _status(console, key).get(key, {})
    return {"job": job.to_json() if job else None, "last_run": health.get("last_run"),
            "open_errors": health.get("open_errors", 0)}


async def progress(request: Request) -> Response:
    console, key = _console(request), _key(request)
    try:
        job_id = int(request.query_params.get("job", ""))
    except ValueError:
        return JSONResponse({"error": "job=ID expected"}, 400)
    return JSONResponse(await run_in_threadpool(_progress, console, key, job_id))


async def suspend(request: Request) -> Response:
    console, key = _console(request), _key(request)
    text = str(_form(request).get("until") or "")
    try:
        day = dt.date.fromisoformat(text).isoformat()
    except ValueError:
        _flash(request, f"{text!r} is not a date (YYYY-MM-DD).", "error")
        return RedirectResponse(_profile_url(key) + "#suspension", 303)
    if day <= dt.date.today().isoformat():  # as `passerelle suspend --until` does: a past date resumes
        await run_in_threadpool(suspension.resume, console.service.store, key)
        _flash(request, f"{day} is past: automatic syncs are running.")
    else:
        await run_in_threadpool(suspension.suspend, console.service.store, key, day)
        _flash(request, f"Automatic syncs are suspended until {day}.")
    return RedirectResponse(_profile_url(key) + "#suspension", 303)


async def resume(request: Request) -> Response:
    console, key = _console(request), _key(request)
    await run_in_threadpool(suspension.resume, console.service.store, key)
    _flash(request, "Automatic syncs resumed.")
    return RedirectResponse(_profile_url(key) + "#suspension", 303)


async def resolve_error(request: Request) -> Response:
    console, key = _console(request), _key(request)
    error_id = int(request.path_params["error"])
    if not any(e.id == error_id for e in list_errors(console.service.store, key)):
        _flash(request, f"No error #{error_id} for {key}.", "error")
    else:
        await run_in_threadpool(set_error_status, console.service.store, error_id, "resolved")
        _flash(request, f"Error #{error_id} marked resolved.")
    return RedirectResponse(_profile_url(key) + "#errors", 303)


def _decide(console: Console, key: str, error_id: int, choice: str) -> str:
    """What `passerelle resolve ID --keep-ours|--take-theirs` does; keeping ours queues the record's sync."""
    entry = console.entry(key)
    assert entry is not None
    if not any(e.id == error_id and e.fault_class == "conflict" for e in list_errors(console.service.store, key)):
        return f"no conflict #{error_id} for {key}: only conflicts are decided here"
    with console.service.runner.session(entry) as session:
        decision = decide_conflict(session, error_id, choice, session.target.client.get)
    if decision.write_needed:
        row = next(e for e in list_errors(console.service.store, key) if e.id == error_id)
        console.service.queue.defer(JobSpec(key, "manual", entry.realm, row.source_key))
    return decision.message


async def decide(request: Request) -> Response:
    console, key = _console(request), _key(request)
    choice = str(_form(request).get("choice") or "")
    try:
        message = await run_in_threadpool(_decide, console, key, int(request.path_params["error"]), choice)
        _flash(request, message)
    except PasserelleError as exc:
        _flash(request, "; ".join(e.message for e in exc.errors), "error")
    except Exception as exc:  # QBO unreachable or not connected: say so on the page
        _flash(request, f"the decision could not be recorded: {exc}", "error")
    return RedirectResponse(_profile_url(key) + "#errors", 303)


async def share(request: Request) -> Response:
    console, key = _console(request), _key(request)
    link = str(request.base_url).rstrip("/") + f"{PREFIX}/share/{console.auth.share_token(key)}"
    days = console.auth.link_seconds / 86400
    _flash(request, f"Read-only link for {key} (valid {days:g} days): {link}")
    return RedirectResponse(_profile_url(key), 303)


async def stream(request: Request) -> Response:
    """The service's progress stream, narrowed to this profile, behind the console's sign-in."""
    key = _key(request)
    return progress_stream(_console(request).service, keep=lambda message: message.get("profile") == key)


async def home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", 307)


def create_console(service: Service, env: Mapping[str, str] | None = None) -> Starlette:
    """The console app, to mount at ``PREFIX``."""
    import os

    environ = dict(os.environ if env is None else env)
    secret = console_secret(environ)
    auth = Auth(secret, environ)
    p = "/p/{pack}/{name}"
    routes = [
        Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/share/{token}", open_share),
        Route("/", page(profiles)),
        Route(p, page(profile_page, admin=False, profile=True)),
        Route(f"{p}/connect", page(connect, profile=True), methods=["POST"]),
        Route(f"{p}/enabled", page(set_enabled, profile=True), methods=["POST"]),
        Route(f"{p}/settings", page(save, profile=True), methods=["POST"]),
        Route(f"{p}/tables/{{table}}", page(save_table_form, profile=True), methods=["POST"]),
        Route(f"{p}/checks", page(checks, profile=True)),
        Route(f"{p}/checks/{{check}}/fix", page(fix_check, profile=True), methods=["POST"]),
        Route(f"{p}/preview", page(preview, profile=True)),
        Route(f"{p}/jobs", page(add_job, profile=True), methods=["POST"]),
        Route(f"{p}/progress.json", page(progress, admin=False, profile=True)),
        Route(f"{p}/stream", page(stream, admin=False, profile=True)),
        Route(f"{p}/suspend", page(suspend, profile=True), methods=["POST"]),
        Route(f"{p}/resume", page(resume, profile=True), methods=["POST"]),
        Route(f"{p}/errors/{{error:int}}/resolve", page(resolve_error, profile=True), methods=["POST"]),
        Route(f"{p}/errors/{{error:int}}/decide", page(decide, profile=True), methods=["POST"]),
        Route(f"{p}/share", page(share, profile=True), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    https_only = environ.get("PASSERELLE_CONSOLE_HTTPS_ONLY", "").lower() in ("1", "true", "yes")
    app = Starlette(routes=routes, middleware=[
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="passerelle_console",
                   max_age=int(auth.max_age), same_site="strict", https_only=https_only, path=PREFIX)])
    app.state.console = Console(service, auth)
    return app
