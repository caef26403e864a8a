"""Times as QBO writes them: ISO 8601 in the company's own offset (``2015-07-24T10:33:39-07:00``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["add_days", "envelope_time", "local", "parse_instant", "stamp", "today"]


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(now: datetime, tz: str) -> datetime:
    zone = _zone(tz)
    return now.astimezone(zone) if zone is not None else now.astimezone(UTC)


def stamp(now: datetime, tz: str) -> str:
    """MetaData times: seconds precision, company offset."""
    return local(now, tz).replace(microsecond=0).isoformat()


def envelope_time(now: datetime, tz: str) -> str:
    """The response envelope's ``time``: milliseconds, company offset."""
    return local(now, tz).isoformat(timespec="milliseconds")


def today(now: datetime, tz: str) -> str:
    return local(now, tz).date().isoformat()


def parse_instant(text: str, tz: str) -> datetime | None:
    """A date or datetime as clients send them; no offset means the company's time zone."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        parsed = datetime(day.year, day.month, day.day)
    if parsed.tzinfo is None:
        zone = _zone(tz)
        parsed = parsed.replace(tzinfo=zone or UTC)
    return parsed


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
