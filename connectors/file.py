"""The ``file`` connector: records from JSON, NDJSON or CSV files, for demos, tests and replays.

Numbers are read as ``Decimal`` so money stays exact. A file that cannot be read or parsed gives
a ``RuleError`` naming the file and, where known, the line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["read_records"]


def _dig(data: Any, dotted: str | None) -> Any:
    for part in (dotted or "").split("."):
        if part:
            data = data.get(part) if isinstance(data, Mapping) else None
    return data


def _format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    return {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv"}.get(path.suffix.lower(), "json")


def read_records(base_dir: Path, options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the records of one file resource (options: path, format, records)."""
    path = base_dir / str(options["path"])
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PasserelleError([RuleError("E130", f"cannot read records: {exc.strerror}", Loc(display))]) from None
    except UnicodeDecodeError:
        raise PasserelleError([RuleError("E130", "records file is not UTF-8", Loc(display))]) from None
    kind = _format(path, options.get("format"))
    if kind == "csv":
        yield from csv.DictReader(io.StringIO(text))
        return
    if kind == "ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield _object(_parse(line, display, number), display, number)
        return
    data = _dig(_parse(text, display, 0), options.get("records"))
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise PasserelleError([RuleError("E130", "expected a list of records", Loc(display, 1, 1))])
    for record in data:
        yield _object(record, display, 0)


def _parse(text: str, display: str, line: int) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        where = Loc(display, line or exc.lineno, exc.colno)
        raise PasserelleError([RuleError("E130", f"invalid JSON: {exc.msg}", where)]) from None


def _object(record: Any, display: str, line: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise PasserelleError([RuleError("E130", f"a record must be a JSON object, got {type(record).__name__}",
                                         Loc(display, line or 1, 1))])
    return record
