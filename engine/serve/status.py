"""``GET /status``: per profile, the last run with its progress, the open errors, the event queue and
the last change-data-capture sweep; read from the store's runs and errors tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from engine.serve.profiles import Served
from engine.store import Store
from engine.store.tables import errors, events, runs

__all__ = ["status"]


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _profile_status(store: Store, key: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        run = conn.execute(sa.select(runs).where(runs.c.profile == key).order_by(runs.c.id.desc()).limit(1)).first()
        open_errors = conn.execute(sa.select(errors).where(errors.c.profile == key, errors.c.status == "open")
                                   .order_by(errors.c.id.desc()).limit(50)).all()
    last = None if run is None else {
        "id": run.id, "kind": run.kind, "status": run.status, "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at), "progress": {"done": run.done, "total": run.total},
        "counts": run.counts or {}}
    return {"last_run": last, "open_errors": [
        {"id": e.id, "flow": e.flow, "key": e.source_key, "class": e.fault_class, "code": e.code, "message": e.message}
        for e in open_errors]}


def status(store: Store, served: Sequence[Served], worker: Mapping[str, Any]) -> dict[str, Any]:
    with store.engine.connect() as conn:
        pending = int(conn.execute(sa.select(sa.func.count()).select_from(events)
                                   .where(events.c.processed_at.is_(None))).scalar_one())
    cdc = worker.get("cdc") or {}
    profiles = {}
    for item in served:
        entry = _profile_status(store, item.key)
        entry["realm"] = item.realm
        entry["cdc"] = cdc.get(item.key)
        profiles[item.key] = entry
    return {"profiles": profiles, "events": {"pending": pending, "processed": worker.get("processed", 0),
                                             "failed": worker.get("failed", 0)}}
