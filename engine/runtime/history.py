"""Runs and the error history (G10-G12): each failed document with its fault class, message and
hint; a later successful write of the record resolves its open errors, which stay listed as resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.store import Store
from engine.store.tables import errors, runs

__all__ = ["ErrorRow", "finish_run", "list_errors", "record_error", "resolve_errors", "resolve_errors_of",
           "set_error_status", "start_run"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ErrorRow:
    id: int
    profile: str
    flow: str
    source_key: str
    run_id: int | None
    fault_class: str
    code: str | None
    message: str
    hint: str | None
    status: str
    created_at: Any
    resolved_at: Any


def start_run(store: Store, profile: str, kind: str, total: int) -> int:
    with store.engine.begin() as conn:
        result = conn.execute(sa.insert(runs).values(profile=profile, kind=kind, status="running", started_at=_now(),
                                                     total=total, done=0, counts={}))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def progress_run(conn: sa.Connection, run_id: int, done: int) -> None:
    conn.execute(sa.update(runs).where(runs.c.id == run_id).values(done=done))


def finish_run(store: Store, run_id: int, status: str, counts: Mapping[str, int]) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(status=status, finished_at=_now(),
                                                                       counts=dict(counts)))


def record_error(conn: sa.Connection, profile: str, flow: str, key: str, *, run_id: int | None, fault_class: str,
                 code: str | None, message: str, hint: str | None) -> None:
    """One open error per record and message: a repeated failure refreshes it instead of piling up."""
    where = ((errors.c.profile == profile) & (errors.c.flow == flow) & (errors.c.source_key == key)
             & (errors.c.status == "open") & (errors.c.message == message))
    if conn.execute(sa.update(errors).where(where).values(run_id=run_id, created_at=_now())).rowcount:
        return
    conn.execute(sa.insert(errors).values(profile=profile, flow=flow, source_key=key, run_id=run_id,
                                          fault_class=fault_class, code=code, message=message, hint=hint,
                                          status="open", created_at=_now()))


def resolve_errors(conn: sa.Connection, profile: str, flow: str, key: str) -> int:
    where = ((errors.c.profile == profile) & (errors.c.flow == flow) & (errors.c.source_key == key)
             & (errors.c.status.in_(("open", "resynced"))))
    return int(conn.execute(sa.update(errors).where(where).values(status="resolved", resolved_at=_now())).rowcount)


def resolve_errors_of(conn: sa.Connection, profile: str, flow: str, keys: Sequence[str]) -> int:
    """``resolve_errors`` for many records of a flow at once (one statement per few hundred keys)."""
    done = 0
    for start in range(0, len(keys), 400):
        where = ((errors.c.profile == profile) & (errors.c.flow == flow)
                 & (errors.c.source_key.in_(keys[start:start + 400])) & (errors.c.status.in_(("open", "resynced"))))
        done += int(conn.execute(sa.update(errors).where(where).values(status="resolved",
                                                                       resolved_at=_now())).rowcount)
    return done


def set_error_status(store: Store, error_id: int, status: str) -> ErrorRow | None:
    with store.engine.begin() as conn:
        values: dict[str, Any] = {"status": status}
        if status == "resolved":
            values["resolved_at"] = _now()
        conn.execute(sa.update(errors).where(errors.c.id == error_id).values(**values))
        row = conn.execute(sa.select(errors).where(errors.c.id == error_id)).first()
    return ErrorRow(**row._mapping) if row else None


def list_errors(store: Store, profile: str | None = None) -> list[ErrorRow]:
    """Open errors first (newest first), then resynced, then resolved."""
    query = sa.select(errors)
    if profile:
        query = query.where(errors.c.profile == profile)
    order = sa.case((errors.c.status == "open", 0), (errors.c.status == "resynced", 1), else_=2)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(order, errors.c.id.desc())).all()
    return [ErrorRow(**row._mapping) for row in rows]
