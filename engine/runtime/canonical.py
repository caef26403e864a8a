"""Canonical JSON for hashing and saving: sorted keys, exact Decimals, read-only mappings thawed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json", "decimal_paths", "payload_hash", "request_id", "to_plain", "with_numbers"]


def to_plain(value: Any) -> Any:
    """Plain JSON data: mappings to dicts, tuples to lists, Decimals to their exact text."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize() if value == value.to_integral() else value, "f")
    return value


def decimal_paths(value: Any, prefix: str = "") -> tuple[str, ...]:
    """Where the Decimals of ``value`` sit (``rate``, ``lines.0.amount``): a plan keeps its payload plain text,
    and these paths let a write send those values back as exact JSON numbers."""
    if isinstance(value, Mapping):
        return tuple(p for k, v in value.items() for p in decimal_paths(v, f"{prefix}{k}."))
    if isinstance(value, (list, tuple)):
        return tuple(p for i, v in enumerate(value) for p in decimal_paths(v, f"{prefix}{i}."))
    return (prefix[:-1],) if isinstance(value, Decimal) else ()


def with_numbers(plain: Any, paths: tuple[str, ...]) -> Any:
    """``plain`` with the values at ``paths`` (see :func:`decimal_paths`) as Decimals again."""
    if not paths:
        return plain
    heads: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        heads.setdefault(head, []).append(rest)
    if isinstance(plain, Mapping):
        return {k: _number(v, heads[k]) if k in heads else v for k, v in plain.items()}
    if isinstance(plain, list):
        return [_number(v, heads[str(i)]) if str(i) in heads else v for i, v in enumerate(plain)]
    return plain


def _number(value: Any, rests: list[str]) -> Any:
    if "" in rests and isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return with_numbers(value, tuple(r for r in rests if r))


def canonical_json(value: Any) -> str:
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def request_id(profile: str, flow: str, key: str, action: str, digest: str) -> str:
    """Deterministic per write: a rerun of the same write replays instead of writing twice (36 chars max)."""
    seed = f"{profile}\x1f{flow}\x1f{key}\x1f{action}\x1f{digest}"
    return "pr-" + hashlib.sha256(seed.encode()).hexdigest()[:32]
