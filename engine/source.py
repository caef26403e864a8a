"""Load: YAML text to a ``Document`` of plain data with the file:line:col of every node.

Only YAML's core types are built (no tags, so nothing is ever executed); duplicate keys are
refused; anchors and aliases are counted and expansion bounded so an alias bomb fails at once;
numbers are bounded in length (a 100,000-digit hex literal is an error, not a huge int); files that
are empty, binary, not UTF-8, huge (refused before they are read) or too deeply nested get a clear
error, not a traceback.

``load_file`` keeps the last files it loaded by content (a digest of their bytes): a file read again
unchanged (a pack shared by many profiles, ``passerelle impact`` comparing fifty of them) is not
parsed again, and a file that changed on disk is, whatever its timestamps say.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from engine.bounds import MAX_DECIMAL_EXPONENT
from engine.errors import Loc, PasserelleError, PathPart, RuleError

__all__ = ["Document", "Limits", "load_file", "load_text"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what a rule file may cost to load."""

    max_bytes: int = 5_000_000
    max_depth: int = 64
    max_aliases: int = 100
    max_anchors: int = 1_000
    max_nodes: int = 200_000
    max_number: int = 100  # characters in a number (int or decimal), signs and separators included


DEFAULT_LIMITS = Limits()

_WORD_TAGS = frozenset({"tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:str"})
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_ALLOWED_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
)


@dataclass(frozen=True)
class Document:
    """A loaded file: its data (plain dicts, lists, scalars) and where each value stands."""

    file: str
    data: Mapping[str, Any]
    marks: Mapping[tuple[PathPart, ...], tuple[int, int]]
    key_marks: Mapping[tuple[PathPart, ...], tuple[int, int]]

    def loc(self, path: tuple[PathPart, ...] = (), key: bool = False) -> Loc:
        """The closest known location of ``path`` (walking up to a parent when needed)."""
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while True:
            mark = table.get(probe) or self.marks.get(probe)
            if mark is not None:
                return Loc(self.file, mark[0], mark[1])
            if not probe:
                return Loc(self.file, 1, 1)
            probe = probe[:-1]


class _Loader(yaml.SafeLoader):
    """A safe loader that composes nodes only and counts aliases as it goes."""

    def __init__(self, stream: str, limits: Limits) -> None:
        super().__init__(stream)
        self.limits = limits
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _LoadFailure("E107", f"more than {self.limits.max_aliases} aliases: refused "
                                   "(an alias bomb would expand exponentially)", mark.line + 1, mark.column + 1)
        elif len(self.anchors) >= self.limits.max_anchors:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if getattr(event, "anchor", None) is not None:
                mark = event.start_mark
                raise _LoadFailure("E107", f"more than {self.limits.max_anchors} anchors: refused",
                                   mark.line + 1, mark.column + 1)
        return super().compose_node(parent, index)


# Dates stay strings: the schema checks their format, and a pack never needs a datetime object.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _LoadFailure(Exception):
    def __init__(self, code: str, message: str, line: int, col: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col, self.hint = code, message, line, col, hint


class _Builder:
    """Turns a composed node graph into plain data, recording marks and bounding expansion."""

    def __init__(self, loader: _Loader, limits: Limits) -> None:
        self.loader = loader
        self.limits = limits
        self.nodes = 0
        self.marks: dict[tuple[PathPart, ...], tuple[int, int]] = {}
        self.key_marks: dict[tuple[PathPart, ...], tuple[int, int]] = {}
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        self.nodes += 1
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if self.nodes > self.limits.max_nodes:
            raise _LoadFailure("E107", f"the document expands to more than {self.limits.max_nodes} nodes "
                               "(aliases repeated too often)", line, col)
        if len(path) > self.limits.max_depth:
            raise _LoadFailure("E106", f"nesting deeper than {self.limits.max_depth} levels", line, col)
        if node.tag not in _ALLOWED_TAGS:
            raise _LoadFailure("E103", f"YAML tag {node.tag!r} is not allowed", line, col,
                               "rule files hold plain data only: remove the tag")
        self.marks.setdefault(path, (line, col))
        if id(node) in self.active:
            raise _LoadFailure("E107", "a recursive alias refers to itself", line, col)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, line, col)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, line: int, col: int) -> Any:
        if node.tag in _NUMBER_TAGS and len(node.value) > self.limits.max_number:
            raise _LoadFailure("E108", f"number {node.value[:20]}... has {len(node.value)} characters, over the "
                               f"{self.limits.max_number}-character limit", line, col,
                               "quote it if it is an identifier, not a quantity")
        if node.tag == "tag:yaml.org,2002:float":
            try:
                value = Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                value = None
            if value is None or not value.is_finite():
                raise _LoadFailure("E108", f"number {node.value!r} is not finite", line, col)
            if not -MAX_DECIMAL_EXPONENT <= value.adjusted() <= MAX_DECIMAL_EXPONENT:
                raise _LoadFailure("E108", f"number {node.value!r} is out of range (at most 10**{MAX_DECIMAL_EXPONENT})",
                                   line, col)
            return value
        if node.tag == "tag:yaml.org,2002:merge":
            raise _LoadFailure("E103", "'<<' is only allowed as a mapping key", line, col)
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: tuple[PathPart, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, path, merged)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LoadFailure("E109", "mapping keys must be plain scalars", kline, kcol)
            # Keys are names: `on`, `yes` or `null` as a key mean the word, not YAML 1.1's boolean or null.
            key = key_node.value if key_node.tag in _WORD_TAGS else self._scalar(key_node, kline, kcol)
            key = str(key)
            if key in out:
                first = self.key_marks[(*path, key)]
                raise _LoadFailure("E104", f"duplicate key {key!r} (first defined at line {first[0]})",
                                   kline, kcol, "each key may appear once in a mapping")
            self.key_marks[(*path, key)] = (kline, kcol)
            out[key] = self.build(value_node, (*path, key))
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _merge(self, node: yaml.Node, path: tuple[PathPart, ...], merged: dict[str, Any]) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                line, col = source.start_mark.line + 1, source.start_mark.column + 1
                raise _LoadFailure("E109", "'<<' merges mappings only", line, col)
            if id(source) in self.active:
                line, col = source.start_mark.line + 1, source.start_mark.column + 1
                raise _LoadFailure("E107", "a recursive alias refers to itself", line, col)
            for key, value in self._mapping(source, path).items():
                merged.setdefault(key, value)


def _decode(raw: bytes, file: str, limits: Limits) -> str:
    if len(raw) > limits.max_bytes:  # a file that grew since its size was read, or a device
        raise PasserelleError([_too_big(file, None, limits)])
    if b"\x00" in raw:
        raise PasserelleError([RuleError("E102", "file is binary (it contains NUL bytes), not YAML",
                                         Loc(file, 1, 1))])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PasserelleError([RuleError("E102", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                         Loc(file, line, col), hint="save the file as UTF-8")]) from None


def load_file(path: Path | str, limits: Limits = DEFAULT_LIMITS, display: str | None = None) -> Document:
    """Read and load one YAML rule file; raises ``PasserelleError`` with located errors.

    The size is checked before the file is read, and at most one byte past the limit is ever read
    (a device or a file that grows cannot make loading slow).
    """
    file = display or str(path)
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.max_bytes:
                raise PasserelleError([_too_big(file, size, limits)])
            raw = handle.read(limits.max_bytes + 1)
    except IsADirectoryError:
        raise PasserelleError([RuleError("E100", "is a directory, not a file", Loc(file))]) from None
    except OSError as exc:
        raise PasserelleError([RuleError("E100", f"cannot read file: {exc.strerror or exc}", Loc(file))]) from None
    key = (file, limits, hashlib.blake2b(raw, digest_size=20).digest())
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
    if cached is None:
        cached = load_text(_decode(raw, file, limits), file, limits)
        with _CACHE_LOCK:
            _CACHE[key] = cached
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return replace(cached, data=_copy(cached.data))


# Parsed files by (shown name, limits, digest of the bytes); only files that loaded are kept.
_CACHE_SIZE = 512
_CACHE: OrderedDict[tuple[str, Limits, bytes], Document] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _copy(value: Any) -> Any:
    """A copy of plain data, so a caller changing what it was given cannot change the cache (far cheaper
    than parsing the YAML again)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _too_big(file: str, size: int | None, limits: Limits) -> RuleError:
    what = f"file is {size} bytes, over" if size is not None else "file is over"
    return RuleError("E101", f"{what} the {limits.max_bytes}-byte limit for rule files", Loc(file, 1, 1))


def load_text(text: str, file: str = "<text>", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Load YAML text (one document) into a located ``Document``."""
    if len(text) > limits.max_bytes:
        raise PasserelleError([RuleError("E101", f"text is over the {limits.max_bytes}-byte limit", Loc(file, 1, 1))])
    try:
        loader = _Loader(text, limits)
    except yaml.reader.ReaderError as exc:
        raise PasserelleError([_reader_error(exc, file, text)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise _LoadFailure("E105", "file is empty", 1, 1, "a rule file starts with `passerelle: 1`")
        builder = _Builder(loader, limits)
        data = builder.build(node, ())
    except _LoadFailure as failure:
        raise PasserelleError([RuleError(failure.code, failure.message, Loc(file, failure.line, failure.col),
                                         hint=failure.hint)]) from None
    except yaml.reader.ReaderError as exc:
        raise PasserelleError([_reader_error(exc, file, text)]) from None
    except yaml.MarkedYAMLError as exc:
        raise PasserelleError([_syntax_error(exc, file, text)]) from None
    except yaml.YAMLError as exc:
        raise PasserelleError([RuleError("E100", f"YAML error: {exc}", Loc(file, 1, 1))]) from None
    except RecursionError:
        raise PasserelleError([RuleError("E106", "nesting is too deep", Loc(file, 1, 1))]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r:.40})"
        raise PasserelleError([RuleError("E105", f"a rule file must be a mapping, not {kind}", Loc(file, 1, 1),
                                         hint="a rule file starts with `passerelle: 1`")])
    return Document(file, data, MappingProxyType(builder.marks), MappingProxyType(builder.key_marks))


def _syntax_error(exc: yaml.MarkedYAMLError, file: str, text: str) -> RuleError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "syntax error"
    hint = None
    if "\t" in problem or "'\\t'" in problem or _tab_at(text, line):
        problem = "tab character: YAML indentation must use spaces"
        hint = "replace tabs with spaces"
    elif exc.context:
        problem = f"{problem} ({exc.context})"
    return RuleError("E100", f"YAML syntax error: {problem}", Loc(file, line, col), hint=hint)


def _reader_error(exc: yaml.reader.ReaderError, file: str, text: str) -> RuleError:
    """A character YAML refuses (control characters other than tab and newlines), located."""
    position = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, position) + 1
    col = position - (text.rfind("\n", 0, position) + 1) + 1
    return RuleError("E102", f"character U+{exc.character:04X} is not allowed in YAML (control character)",
                     Loc(file, line, col), hint="remove it, or write it as an escape in a double-quoted string")


def _tab_at(text: str, line: int) -> bool:
    lines = text.splitlines()
    return 0 < line <= len(lines) and lines[line - 1].lstrip(" ").startswith("\t")
