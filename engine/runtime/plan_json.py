"""A plan as versioned JSON, written a change at a time: the same document as ``render.plan_to_json``
(schemas/plan.schema.json) with each change on one line, encoded by the C JSON encoder and never
copied whole first, so a plan of 10,000 changes is written in seconds in the memory of one change.
``read_plan_file`` reads that layout back a line at a time (past the first changes they go to a temporary
file, as a fresh plan's do); a plan file laid out otherwise (reformatted by hand) is read whole."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from engine.errors import PasserelleError, RuleError
from engine.runtime.canonical import to_plain
from engine.runtime.plan import PLAN_VERSION, Change, FieldChange, PackedPayload, Plan, summary
from engine.runtime.spill import SpillingList

__all__ = ["change_data", "change_of", "check_version", "iter_plan_json", "plan_from_json", "plan_of",
           "read_plan_file", "write_plan_json"]

_FIELDS = tuple(f.name for f in dataclasses.fields(Change))


def _plain(value: Any) -> Any:
    """What the encoder cannot take as it is: packed payloads and diffs, read-only mappings, Decimals, field
    diffs."""
    if isinstance(value, PackedPayload):
        return value.unpack()  # decoded once, not once per field as dict() would
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, list, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Decimal):
        return to_plain(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not JSON data")


def change_data(change: Change) -> dict[str, Any]:
    """One change as plain JSON data (``numbers`` only when there are some), the payload decoded once."""
    return json.loads(_change(change))  # type: ignore[no-any-return]


def _change(change: Change) -> str:
    data = {name: getattr(change, name) for name in _FIELDS}
    if not data.get("numbers"):
        data.pop("numbers", None)  # written only for product writes carrying numbers
    return json.dumps(data, default=_plain, ensure_ascii=False, sort_keys=True)


def iter_plan_json(plan: Plan) -> Iterator[str]:
    """The document in pieces: the envelope indented, each change one line."""
    rest: dict[str, Any] = {f.name: getattr(plan, f.name) for f in dataclasses.fields(Plan) if f.name != "changes"}
    if rest.get("enabled", True):
        rest.pop("enabled", None)  # written only for a profile switched off
    rest["summary"] = summary(plan)
    envelope = json.dumps(to_plain(rest), indent=2, ensure_ascii=False, sort_keys=True)
    if not plan.changes:
        yield '{\n  "changes": [],\n' + envelope[2:] + "\n"
        return
    yield '{\n  "changes": [\n'
    for n, change in enumerate(plan.changes):
        yield ("    " if n == 0 else ",\n    ") + _change(change)
    yield "\n  ],\n" + envelope[2:] + "\n"


def write_plan_json(plan: Plan, out: IO[str]) -> None:
    for piece in iter_plan_json(plan):
        out.write(piece)


# -- reading a saved plan back ----------------------------------------------------------------------------------

def change_of(data: Mapping[str, Any]) -> Change:
    """A change from its JSON data (KeyError/TypeError on a wrong shape)."""
    return Change(**{**data, "diffs": tuple(FieldChange(**d) for d in data.get("diffs", ())),
                     "creates": tuple(data.get("creates", ())), "owned_fields": tuple(data.get("owned_fields", ())),
                     "attachments": tuple(data.get("attachments", ())), "numbers": tuple(data.get("numbers", ()))})


def check_version(data: Mapping[str, Any], where: str) -> None:
    if data.get("version") != PLAN_VERSION:
        raise PasserelleError([RuleError("E801", f"{where}: unsupported plan version {data.get('version')!r} "
                                         f"(this Passerelle applies version {PLAN_VERSION})", None)])


def plan_of(data: Mapping[str, Any], changes: Sequence[Change], where: str) -> Plan:
    """The plan of a saved document's envelope and its changes."""
    try:
        return Plan(profile=data["profile"], pack=data["pack"], pack_version=data["pack_version"],
                    created_at=data["created_at"], fingerprint=data["fingerprint"], changes=changes,
                    unchanged=dict(data["unchanged"]), first_sync=bool(data["first_sync"]), version=data["version"],
                    enabled=bool(data.get("enabled", True)))
    except (KeyError, TypeError, ValueError) as exc:
        raise PasserelleError([RuleError("E801", f"{where}: not a valid plan ({exc})", None)]) from None


def plan_from_json(text: str, where: str = "plan.json") -> Plan:
    """A saved plan; a wrong version or shape is a clear error, never a traceback."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PasserelleError([RuleError("E801", f"not a plan: invalid JSON ({exc.msg})", None)]) from None
    if not isinstance(data, Mapping):
        raise PasserelleError([RuleError("E801", f"{where}: not a plan (a JSON object is expected)", None)])
    check_version(data, where)
    try:
        changes = tuple(change_of(c) for c in data["changes"])
    except (KeyError, TypeError) as exc:
        raise PasserelleError([RuleError("E801", f"{where}: not a valid plan ({exc})", None)]) from None
    return plan_of(data, changes, where)


def read_plan_file(path: Path) -> Plan:
    """A saved plan read a change at a time when it has the layout ``write_plan_json`` gives; else read whole."""
    try:
        return _read_plan_file(path)
    except UnicodeDecodeError as exc:
        raise PasserelleError([RuleError("E801", f"{path}: not a plan (not UTF-8 text at byte {exc.start})",
                                         None)]) from None
    except OSError as exc:
        raise PasserelleError([RuleError("E801", f"{path}: cannot read the plan ({exc.strerror or exc})",
                                         None)]) from None


def _read_plan_file(path: Path) -> Plan:
    where = str(path)
    with path.open(encoding="utf-8") as handle:
        head = handle.readline(), handle.readline()
        if head[0] != "{\n" or head[1] not in ('  "changes": [\n', '  "changes": [],\n'):
            return plan_from_json(head[0] + head[1] + handle.read(), where)
        changes: SpillingList[Change] = SpillingList()
        line_no = 2
        try:
            if head[1] == '  "changes": [\n':
                for line in handle:
                    line_no += 1
                    text = line.strip()
                    if text in ("],", "]"):
                        break
                    changes.append(change_of(json.loads(text.removesuffix(","))))
            envelope = json.loads("{" + handle.read())
        except json.JSONDecodeError as exc:
            raise PasserelleError([RuleError("E801", f"not a plan: invalid JSON at line {line_no} ({exc.msg})",
                                             None)]) from None
        except (KeyError, TypeError) as exc:
            raise PasserelleError([RuleError("E801", f"{where}: not a valid plan at line {line_no} ({exc})",
                                             None)]) from None
    if not isinstance(envelope, Mapping):
        raise PasserelleError([RuleError("E801", f"{where}: not a plan (a JSON object is expected)", None)])
    check_version(envelope, where)
    return plan_of(envelope, changes.done(), where)
