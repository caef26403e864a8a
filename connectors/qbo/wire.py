"""JSON on the wire: money stays ``Decimal`` both ways, and is written as an exact JSON number."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]


def loads(raw: bytes | str) -> Any:
    """Parse a QBO answer with decimals kept exact."""
    return json.loads(raw, parse_float=Decimal)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to QuickBooks")
        text = format(value, "f")
        return text if text not in ("-0", "-0.0") else "0"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(key), ensure_ascii=False)}:{_encode(item)}"
                              for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Serialise a payload; ``Decimal("10.10")`` is sent as ``10.10``, never through a float."""
    return _encode(value).encode("utf-8")
