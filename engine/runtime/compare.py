"""Comparing what we would write with what the target holds, field by field.

The target adds things we never sent (ids, names in references, computed totals, subtotal lines),
so a live record is first *projected* onto the shape of our payload: only the keys we send, list
items paired in order after dropping items of a kind we never send. Numbers compare as Decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.runtime.canonical import to_plain

__all__ = ["diff_fields", "project", "same"]


def project(live: Any, shape: Any) -> Any:
    """``live`` reduced to the keys and items present in ``shape``."""
    if isinstance(shape, Mapping):
        if not isinstance(live, Mapping):
            return live
        return {k: project(live.get(k), v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        if not isinstance(live, (list, tuple)):
            return live
        kinds = {item.get("DetailType") for item in shape if isinstance(item, Mapping)}
        items = [i for i in live if not (isinstance(i, Mapping) and "DetailType" in i and i["DetailType"] not in kinds)]
        return [project(item, shape[min(n, len(shape) - 1)]) if shape else item for n, item in enumerate(items)]
    return live


def _norm(value: Any) -> Any:
    """Numbers (and numeric text, which is how exact amounts travel) as normalised Decimals; nulls dropped."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).normalize()
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return number.normalize() if number.is_finite() else value
    if isinstance(value, Mapping):
        return {k: _norm(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


def same(live: Any, sent: Any) -> bool:
    return bool(_norm(project(live, sent)) == _norm(sent))


def diff_fields(live: Mapping[str, Any], payload: Mapping[str, Any], fields: tuple[str, ...] | None = None
                ) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each top-level field whose live value differs from the payload's."""
    out = []
    for name in fields or tuple(payload):
        if name not in payload:
            continue
        before = project(live.get(name), payload[name])
        if _norm(before) != _norm(payload[name]):
            out.append((name, to_plain(before), to_plain(payload[name])))
    return out
