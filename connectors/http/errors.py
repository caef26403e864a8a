"""Errors of the http connector: one ``RuleError`` per failure, naming where it happened, never a secret.

Codes: E321 unknown resource, E901 the API answered an error (or could not be reached), E902 the answer
could not be read (not JSON, no record list where declared), E903 the declaration or its inputs are unusable
(a missing secret, a template that fails over the settings, no write endpoint), E904 a pagination loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["Where", "excerpt", "fail"]

_EXCERPT = 200


@dataclass(frozen=True)
class Where:
    """What a message names: the connection, the resource and the URL path (no query, no host secrets)."""

    connection: str
    loc: Loc | None
    resource: str | None = None
    path: str | None = None

    def at(self, *, resource: str | None = None, path: str | None = None) -> Where:
        return Where(self.connection, self.loc, resource or self.resource, path or self.path)

    def label(self) -> str:
        out = f"connection {self.connection!r}"
        if self.resource:
            out += f", resource {self.resource!r}"
        if self.path:
            out += f", {self.path}"
        return out


def excerpt(text: str, secrets: Iterable[str] = ()) -> str:
    """The start of a body on one line, with every secret value masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "…"


def fail(code: str, where: Where, message: str, hint: str | None = None) -> PasserelleError:
    """The exception to raise: the caller writes ``raise fail(...) from None`` so no traceback chain shows."""
    return PasserelleError([RuleError(code, f"{where.label()}: {message}", where.loc, hint=hint)])
