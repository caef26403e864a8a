"""JSON both ways with money exact (``Decimal`` in, exact JSON numbers out), and dotted-path reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["MISSING", "dig", "dumps", "loads"]

MISSING: Any = object()


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the number {value}")
        text = format(value, "f")
        return "0" if text in ("-0", "-0.0") else text
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def dig(data: Any, dotted: str | None) -> Any:
    """The value at ``a.b.c`` (the whole body for an empty path); ``MISSING`` when a step is absent."""
    for part in (dotted or "").split("."):
        if not part:
            continue
        if not isinstance(data, Mapping) or part not in data:
            return MISSING
        data = data[part]
    return data
