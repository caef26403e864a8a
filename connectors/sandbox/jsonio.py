"""JSON in and out: money is Decimal inside the sandbox and a plain JSON number on the wire."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from connectors.sandbox.errors import QboError

__all__ = ["CENT", "dumps", "loads", "money", "to_decimal"]

CENT = Decimal("0.01")
MAX_MAGNITUDE = Decimal(10) ** 15  # QBO keeps amounts and quantities as 15-digit figures; larger ones are faults


def loads(raw: bytes | str) -> Any:
    """Parse a request body, keeping decimals exact; malformed JSON (bad UTF-8, nesting too deep for the
    parser, a 5,000-digit integer) is QBO's 2010 fault."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise QboError("2010", f"Request body is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise QboError("2010", "Request body is not valid JSON: nested too deeply") from None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def dumps(value: Any) -> str:
    """Serialise with Decimals as numbers (QBO sends ``150.0``-style numbers, never strings)."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def to_decimal(value: Any, element: str = "") -> Decimal:
    """A number from the payload (int, Decimal or numeric string), or 2010 naming the field."""
    if isinstance(value, bool) or value is None:
        raise QboError("2010", f"Invalid number: {value!r}", element)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise QboError("2010", f"Invalid number: {str(value)[:40]!r}", element) from None
    if not result.is_finite():
        raise QboError("2010", f"Invalid number: {str(value)[:40]}", element)
    if abs(result) >= MAX_MAGNITUDE:
        raise QboError("2010", f"Invalid number: {str(value)[:40]} is out of range (at most 15 digits before "
                               "the decimal point)", element)
    return result


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
