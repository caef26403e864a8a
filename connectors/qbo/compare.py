"""Is a field in QBO still what we wrote? Comparison that ignores what QBO adds on its own.

QBO echoes our values with additions: reference names (``{"value": "1", "name": "Acme"}``), line ids and
numbers, a computed ``SubTotalLineDetail`` line, amounts as ``150.0`` for our ``150``. A value we wrote is
*unchanged* when everything we sent is still there with an equal value; extra keys QBO added do not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["changed_fields", "same"]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _lines(value: list[Any]) -> list[Any]:
    return [line for line in value if not (isinstance(line, Mapping) and line.get("DetailType") == "SubTotalLineDetail")]


def same(ours: Any, theirs: Any) -> bool:
    """True when ``theirs`` (QBO's current value) still holds everything in ``ours``."""
    if ours is None or ours == "":
        return theirs is None or theirs in ("", [], {})
    if isinstance(ours, Mapping):
        if not isinstance(theirs, Mapping):
            return False
        if "value" in ours and set(ours) <= {"value", "name", "type"}:
            return str(ours.get("value")) == str(theirs.get("value"))
        return all(same(item, theirs.get(key)) for key, item in ours.items())
    if isinstance(ours, list | tuple):
        if not isinstance(theirs, list | tuple):
            return False
        mine, current = _lines(list(ours)), _lines(list(theirs))
        return len(mine) == len(current) and all(same(a, b) for a, b in zip(mine, current, strict=True))
    left, right = _number(ours), _number(theirs)
    if left is not None and right is not None and not isinstance(ours, str):
        return left == right
    return str(ours) == str(theirs) if not isinstance(ours, bool) else ours == theirs


def changed_fields(ours: Mapping[str, Any], theirs: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """The fields among ``fields`` whose value in ``theirs`` no longer holds ``ours``."""
    return [name for name in fields if not same(ours.get(name), theirs.get(name))]
