"""Where the shipped data lives: ``schemas/`` and ``rules/`` beside the packages in a checkout,
or under ``engine/_shipped/`` in an installed wheel."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["rules_dir", "schema", "schemas_dir"]

_HERE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    checkout = _HERE.parent / name
    if checkout.is_dir():
        return checkout
    return _HERE / "_shipped" / name


def schemas_dir() -> Path:
    return _data_dir("schemas")


def rules_dir() -> Path:
    return _data_dir("rules")


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped with Passerelle, by file name (``pack.schema.json``)."""
    loaded: dict[str, Any] = json.loads((schemas_dir() / name).read_text(encoding="utf-8"))
    return loaded
