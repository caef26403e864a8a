"""Canonical JSON for hashing and saving: sorted keys, exact Decimals, read-only mappings thawed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json", "payload_hash", "request_id", "to_plain"]


def to_plain(value: Any) -> Any:
    """Plain JSON data: mappings to dicts, tuples to lists, Decimals to their exact text."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize() if value == value.to_integral() else value, "f")
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def request_id(profile: str, flow: str, key: str, action: str, digest: str) -> str:
    """Deterministic per write: a rerun of the same write replays instead of writing twice (36 chars max)."""
    seed = f"{profile}\x1f{flow}\x1f{key}\x1f{action}\x1f{digest}"
    return "pr-" + hashlib.sha256(seed.encode()).hexdigest()[:32]
