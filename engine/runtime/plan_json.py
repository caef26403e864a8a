"""A plan as versioned JSON, written a change at a time: the same document as ``render.plan_to_json``
(schemas/plan.schema.json) with each change on one line, encoded by the C JSON encoder and never
copied whole first, so a plan of 10,000 changes is written in seconds in the memory of one change."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

from engine.runtime.canonical import to_plain
from engine.runtime.plan import Change, PackedPayload, Plan, summary

__all__ = ["change_data", "iter_plan_json", "write_plan_json"]

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
