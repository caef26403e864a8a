"""Incremental-read cursors in the state store (table ``cursors``), keyed by profile and ``connection.resource``.

Reading a cursor is read-only; saving is a separate call the runtime makes once the records read since
it were carried out, so a plan (which writes nothing) or a failed apply never skips records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from engine.store import Store
from engine.store.tables import cursors

__all__ = ["cursor_name", "greater", "load_cursor", "save_cursor"]


def cursor_name(connection: str, resource: str) -> str:
    return f"{connection}.{resource}"


def load_cursor(store: Store, profile: str, name: str) -> str | None:
    with store.engine.connect() as db:
        value = db.execute(sa.select(cursors.c.value).where(cursors.c.profile == profile, cursors.c.name == name)).scalar()
    return None if value is None else str(value)


def save_cursor(store: Store, profile: str, name: str, value: str) -> None:
    now = dt.datetime.now(dt.UTC)
    where = (cursors.c.profile == profile, cursors.c.name == name)
    with store.engine.begin() as db:
        updated = db.execute(sa.update(cursors).where(*where).values(value=value, updated_at=now)).rowcount
        if not updated:
            db.execute(sa.insert(cursors).values(profile=profile, name=name, value=value, updated_at=now))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal | float):
        return Decimal(value) if Decimal(value).is_finite() else None
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else None
    except ArithmeticError:
        return None
    return number if number is not None and number.is_finite() else None


def greater(a: Any, b: Any) -> bool:
    """Whether cursor value ``a`` comes after ``b``: numbers by value, anything else as text (ISO dates sort)."""
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na > nb
    return str(a) > str(b)
