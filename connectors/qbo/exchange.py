"""The values of one exchange with QBO: the request (:class:`Call`) and its classified outcome (:class:`Answer`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.qbo.faults import Fault
from connectors.qbo.wire import dumps

__all__ = ["Answer", "Call", "json_call", "retry_after_seconds"]


@dataclass(frozen=True)
class Call:
    """One HTTP request to the company API, relative to ``/v3/company/{realm}``."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None
    is_batch: bool = False


@dataclass(frozen=True)
class Answer:
    """The outcome of one exchange. ``definite`` is False when the request may or may not have run."""

    data: Any = None
    fault: Fault | None = None
    definite: bool = True
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now is None:
        now = datetime.now(when.tzinfo)
    return max(0.0, (when - now).total_seconds())


def json_call(method: str, path: str, payload: Any, params: Mapping[str, str] | None = None) -> Call:
    """A request with a JSON body."""
    return Call(method, path, dict(params or {}), dumps(payload), "application/json")
