"""A profile's own layer (its YAML file), changed from a form: the ``settings:`` block, the ``tables:`` block
(rows of the pack's tables added, replaced or removed) and the ``enabled:`` switch.

The new text is checked by the same pipeline as ``passerelle validate`` (load, schema, build, resolve,
compile) from a temporary file beside the profile, so relative pack references and every message are
the ones the CLI gives, placed at the profile's own path; only a valid profile replaces the file
(atomically). Only the edited top-level key is rewritten: other keys and their comments stay as they are.

Values are typed from the pack's declaration (numbers written as numbers, booleans as booleans, lists as
lists); a value that does not fit is written as a string, so the schema reports it like it would in the
file (``E2xx`` at ``settings.NAME``). A setting equal to the pack's default is left out of the overlay.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.build import thaw
from engine.errors import PasserelleError
from engine.model import Setting, Table
from engine.pipeline import Loaded, run_pipeline

__all__ = ["FieldError", "SaveResult", "parse_form_value", "render_value", "save_enabled", "save_settings",
           "save_table", "table_key"]

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class FieldError:
    field: str | None   # the setting's name, or None when the error is elsewhere in the profile
    code: str
    message: str        # the located message `passerelle validate` prints
    hint: str | None = None


@dataclass(frozen=True)
class SaveResult:
    ok: bool
    errors: tuple[FieldError, ...] = ()
    loaded: Loaded | None = None


def _scalar(kind: str | None, text: str) -> Any:
    text = text.strip()
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind in ("number", "decimal", "money") and _NUMBER.match(text):
        try:
            return Decimal(text)
        except InvalidOperation:
            return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_form_value(setting: Setting, values: Sequence[str]) -> Any:
    """What a form sent for ``setting`` (all values of the field), typed as the pack declares it."""
    if setting.type == "boolean":
        return bool(values) and values[-1] in ("1", "true", "on")
    if setting.type == "list":
        items: list[str] = []
        for value in values:
            items.extend(line.strip() for line in value.splitlines() if line.strip())
        return [_scalar(setting.items, item) for item in items]
    return _scalar(setting.type, values[-1] if values else "")


def render_value(value: Any) -> str:
    """A value as YAML flow text (JSON is YAML; Decimals as plain numbers, dates stay strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if value is None:
        return "null"
    return json.dumps(str(value), ensure_ascii=False)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal | int | float) and isinstance(b, Decimal | int | float) and not isinstance(a, bool):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _block(lines: list[str], key: str) -> tuple[int, int] | None:
    """The line range of the top-level ``key:`` and its indented body (comments inside it included)."""
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", line)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (lines[end].strip() == "" or lines[end][:1] in (" ", "\t")):
        end += 1
    while end > start + 1 and lines[end - 1].strip() == "":
        end -= 1
    return start, end


def replace_key(text: str, key: str, body: list[str] | None) -> str:
    """``text`` with the top-level ``key`` replaced by ``body`` (its lines, ``key:`` first), or removed."""
    lines = text.splitlines(keepends=False)
    found = _block(lines, key)
    new = body or []
    if found is None:
        lines = lines + new
    else:
        lines[found[0]:found[1]] = new
    return "\n".join(lines) + "\n"


def _errors(exc: PasserelleError, temp: Path, real: Path) -> tuple[FieldError, ...]:
    out = []
    for error in exc.errors:
        text = error.format().replace(str(temp), str(real))
        path = error.path
        name = str(path[1]) if len(path) >= 2 and path[0] == "settings" else None
        if name is None and error.loc is not None and str(error.loc.file) == str(temp) and path[:1] == ("enabled",):
            name = "enabled"
        out.append(FieldError(name, error.code, text, error.hint))
    return tuple(out)


def _check_and_write(path: Path, text: str) -> SaveResult:
    temp = path.with_name(f".{path.name}.console.tmp")  # not *.yaml: the deployment scan never sees it
    temp.write_text(text, encoding="utf-8")
    try:
        loaded = run_pipeline(temp)
    except PasserelleError as exc:
        temp.unlink(missing_ok=True)
        return SaveResult(False, _errors(exc, temp, path))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)
    return SaveResult(True, (), loaded)


def save_settings(path: Path, loaded: Loaded, values: Mapping[str, Any],
                  extra: Sequence[FieldError] = ()) -> SaveResult:
    """Write ``values`` (setting -> typed value) as the profile's ``settings:``; values equal to the pack's
    default are left out. ``extra`` are errors found before (a value not among the choices): nothing is
    written then, but the pipeline still runs so every other message shows too."""
    declared = loaded.pack.settings
    overlay: dict[str, Any] = {}
    current = {name: thaw(row.value) for name, row in loaded.profile.settings.items()} if loaded.profile else {}
    for name, setting in declared.items():
        if name not in values:
            if name in current:
                overlay[name] = current[name]
            continue
        value = values[name]
        if setting.has_default and _same(value, thaw(setting.default)):
            continue
        overlay[name] = value
    body = ["settings:", *(f"  {name}: {render_value(value)}" for name, value in overlay.items())] if overlay else None
    text = replace_key(path.read_text(encoding="utf-8"), "settings", body)
    if extra:
        temp = path.with_name(f".{path.name}.console.tmp")
        temp.write_text(text, encoding="utf-8")
        try:
            run_pipeline(temp)
            found: tuple[FieldError, ...] = ()
        except PasserelleError as exc:
            found = _errors(exc, temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return SaveResult(False, (*extra, *found))
    return _check_and_write(path, text)


def save_enabled(path: Path, enabled: bool) -> SaveResult:
    """Switch the integration on or off (O2): ``enabled: false`` in the profile, or no key when on."""
    text = replace_key(path.read_text(encoding="utf-8"), "enabled", None if enabled else ["enabled: false"])
    return _check_and_write(path, text)


def table_key(table: Table, text: str) -> Any:
    """A row key typed as the table declares it (integer keys as numbers)."""
    return _scalar("integer" if table.key_type == "integer" else None, text)


def _change_lines(name: str, change: Mapping[str, Any]) -> list[str]:
    lines = [f"  {name}:"]
    for part in ("add", "replace"):
        rows = change.get(part) or {}
        if rows:
            lines.append(f"    {part}:")
            lines.extend(f"      {render_value(key)}: {render_value(value)}" for key, value in rows.items())
    if change.get("remove"):
        lines.append(f"    remove: {render_value(list(change['remove']))}")
    for part in ("on_missing", "default"):
        if part in change:
            lines.append(f"    {part}: {render_value(change[part])}")
    return lines


def save_table(path: Path, loaded: Loaded, table: str, rows: Mapping[Any, Any],
               extra: Sequence[FieldError] = ()) -> SaveResult:
    """Make ``rows`` (key -> value) the effective rows of ``table`` for this profile: the profile's change of
    the table becomes what differs from the pack's own rows (rows added, values replaced, rows removed); the
    changes to other tables, and the table's ``on_missing``/``default`` overrides, stay as they are."""
    base = {key: thaw(row.value) for key, row in loaded.pack.tables[table].rows.items()}
    changes: dict[str, dict[str, Any]] = {}
    for name, was in (loaded.profile.tables.items() if loaded.profile else ()):
        kept: dict[str, Any] = {"add": {k: thaw(r.value) for k, r in was.add.items()},
                                "replace": {k: thaw(r.value) for k, r in was.replace.items()},
                                "remove": [k for k, _ in was.remove]}
        if was.on_missing is not None:
            kept["on_missing"] = was.on_missing
        if was.has_default:
            kept["default"] = thaw(was.default)
        changes[name] = kept
    mine = {k: v for k, v in changes.get(table, {}).items() if k in ("on_missing", "default")}
    mine["add"] = {key: value for key, value in rows.items() if key not in base}
    mine["replace"] = {key: value for key, value in rows.items() if key in base and not _same(value, base[key])}
    mine["remove"] = [key for key in base if key not in rows]
    changes[table] = mine
    body = ["tables:"]
    for name, change in changes.items():
        if any(change.get(part) for part in ("add", "replace", "remove")) or "on_missing" in change \
                or "default" in change:
            body.extend(_change_lines(name, change))
    text = replace_key(path.read_text(encoding="utf-8"), "tables", body if len(body) > 1 else None)
    if extra:
        return SaveResult(False, tuple(extra))
    return _check_and_write(path, text)
