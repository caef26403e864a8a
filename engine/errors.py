"""One error type for everything a user can get wrong, with where and what.

Every stage collects ``RuleError`` values instead of raising on the first problem; the CLI prints
them like a compiler (``file:line:col: error[CODE]: message``) and exits 1. ``PasserelleError``
carries a batch of them across stage boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Loc", "PasserelleError", "RuleError", "json_path", "sort_errors"]

PathPart = str | int


@dataclass(frozen=True, order=True)
class Loc:
    """A position in a source file; line and column start at 1."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


@dataclass(frozen=True)
class RuleError:
    """A user-fixable problem at a place in a rule file, profile or record."""

    code: str
    message: str
    loc: Loc | None = None
    path: tuple[PathPart, ...] = ()
    hint: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        text = f"{where}{self.severity}[{self.code}]: {self.message}"
        if self.path:
            text += f"\n  at {json_path(self.path)}"
        for note in self.notes:
            text += f"\n  {note}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def at(self, loc: Loc | None, path: tuple[PathPart, ...] = ()) -> RuleError:
        """The same error, placed (used when a lower layer did not know the location)."""
        return RuleError(self.code, self.message, loc or self.loc, path or self.path, self.hint,
                         self.severity, self.notes)


def json_path(path: Sequence[PathPart]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def sort_errors(errors: Iterable[RuleError]) -> list[RuleError]:
    def key(error: RuleError) -> tuple[str, int, int, str]:
        loc = error.loc or Loc("")
        return (loc.file, loc.line, loc.col, error.code)

    return sorted(dict.fromkeys(errors), key=key)


class PasserelleError(Exception):
    """Raised by a stage that found user errors; carries all of them."""

    def __init__(self, errors: Iterable[RuleError]) -> None:
        self.errors: tuple[RuleError, ...] = tuple(sort_errors(errors))
        super().__init__("\n".join(e.format() for e in self.errors))
