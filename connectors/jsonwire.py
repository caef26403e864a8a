"""JSON on the wire for every connector: money stays ``Decimal`` both ways and is written as an exact
JSON number (``Decimal("10.10")`` is sent as ``10.10``, never through a float)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]


def loads(raw: bytes | str) -> Any:
    """Parse an answer with decimals kept exact."""
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
