"""The ``file`` connector: records from JSON, NDJSON or CSV files, for demos, tests and replays.

Numbers are read as ``Decimal`` so money stays exact. A file that cannot be read or parsed gives
a ``RuleError`` naming the file and, where known, the line.

A resource that declares ``writes: PATH`` can be written to: each create or update is appended to that
NDJSON file as one line (``{"operation", "resource", "id", "record"}``), so a demo or a replay shows what
a product would have received. A created record's id is ``RESOURCE-N`` (N counts the file's creates).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["append_write", "read_records"]


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
    """Yield the records of one file resource (options: path, format, records), one at a time: a large
    export is never held whole (a top-level JSON array, NDJSON and CSV stream; a JSON document whose records
    sit under ``records:`` is parsed whole)."""
    path = base_dir / str(options["path"])
    display = str(path)
    kind = _format(path, options.get("format"))
    try:
        with path.open(encoding="utf-8-sig", newline="" if kind == "csv" else None) as handle:
            if kind == "csv":
                yield from csv.DictReader(handle)
            elif kind == "ndjson":
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield _object(_parse(line, display, number), display, number)
            elif options.get("records"):
                yield from _document(handle.read(), display, str(options["records"]))
            else:
                yield from _array(handle, display)
    except OSError as exc:
        raise PasserelleError([RuleError("E130", f"cannot read records: {exc.strerror}", Loc(display))]) from None
    except UnicodeDecodeError:
        raise PasserelleError([RuleError("E130", "records file is not UTF-8", Loc(display))]) from None


def _document(text: str, display: str, records: str | None) -> Iterator[dict[str, Any]]:
    data = _dig(_parse(text, display, 0), records)
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise PasserelleError([RuleError("E130", "expected a list of records", Loc(display, 1, 1))])
    for record in data:
        yield _object(record, display, 0)


_DECODER = json.JSONDecoder(parse_float=Decimal)
_BLOCK = 1 << 20
_SPACE = " \t\r\n"


class _Broken(Exception):
    """The text is not the JSON array it started as."""


class _Reader:
    """A sliding window over a text file for decoding one JSON value at a time."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.buffer, self.position, self.eof = handle, "", 0, False

    def _more(self) -> bool:
        if self.eof:
            return False
        more = self.handle.read(_BLOCK)
        self.eof = not more
        self.buffer, self.position = self.buffer[self.position:] + more, 0
        return bool(more)

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in _SPACE:
                self.position += 1
            if self.position < len(self.buffer) or not self._more():
                return self.buffer[self.position:self.position + 1]

    def value(self) -> Any:
        while True:
            try:
                value, self.position = _DECODER.raw_decode(self.buffer, self.position)
                return value
            except json.JSONDecodeError:
                if not self._more():
                    raise _Broken from None


def _array(handle: Any, display: str) -> Iterator[dict[str, Any]]:
    """The records of a top-level JSON array, decoded one at a time. Anything else (a single object, a
    syntax error) is parsed whole, so errors name the line and column as before."""
    reader = _Reader(handle)
    try:
        if reader.peek() != "[":
            raise _Broken
        reader.position += 1
        if reader.peek() == "]":
            reader.position += 1
        else:
            while True:
                reader.peek()
                yield _object(reader.value(), display, 0)
                separator = reader.peek()
                reader.position += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise _Broken
        if reader.peek() != "":
            raise _Broken
    except _Broken:
        handle.seek(0)
        yield from _document(handle.read(), display, None)


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


def append_write(path: Path, resource: str, payload: Mapping[str, Any], target_id: str | int | None) -> dict[str, Any]:
    """Append one write to the NDJSON file ``path`` (created with its folder) and answer the record written,
    with its id: ``target_id`` for an update, the next ``RESOURCE-N`` for a create."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if target_id is None:
        creates = sum(1 for record in read_records(path.parent, {"path": path.name, "format": "ndjson"})
                      if record.get("operation") == "create") if path.exists() else 0
        ident, operation = f"{resource}-{creates + 1}", "create"
    else:
        ident, operation = str(target_id), "update"
    line = {"operation": operation, "resource": resource, "id": ident, "record": payload}
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    except OSError as exc:
        raise PasserelleError([RuleError("E131", f"cannot write records: {exc.strerror}", Loc(str(path)))]) from None
    return {**payload, "id": ident}
