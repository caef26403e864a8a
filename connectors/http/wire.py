"""JSON both ways with money exact (``Decimal`` in, exact JSON numbers out), and dotted-path reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.jsonwire import dumps, loads

__all__ = ["MISSING", "dig", "dumps", "loads"]

MISSING: Any = object()


def dig(data: Any, dotted: str | None) -> Any:
    """The value at ``a.b.c`` (the whole body for an empty path); ``MISSING`` when a step is absent."""
    for part in (dotted or "").split("."):
        if not part:
            continue
        if not isinstance(data, Mapping) or part not in data:
            return MISSING
        data = data[part]
    return data
