"""Live run progress as server-sent events, for ``GET /status/stream`` and the console's own stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.fleet.service import Service
from engine.serve.hub import sse_response
from engine.store.tables import runs

__all__ = ["progress_stream"]


class _Watch:
    """What one listener has heard: each unfinished run's last ``done`` told. Runs newer than ``floor`` are read
    too, so a run that starts and ends between two reads is still told once, at its end."""

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.told: dict[int, int] = {}


def _start_floor(service: Service) -> int:
    with service.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(runs.c.id), 0))).scalar() or 0)


def _running_progress(service: Service, watch: _Watch) -> list[dict[str, object]]:
    """Progress of the runs under way in other processes (the fleet's workers), read from the store."""
    with service.store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.profile, runs.c.done, runs.c.total, runs.c.status)
                            .where(sa.or_(runs.c.status == "running", runs.c.id > watch.floor,
                                          runs.c.id.in_(list(watch.told) or [-1])))
                            .order_by(runs.c.id)).all()
    out: list[dict[str, object]] = []
    for row in rows:
        if watch.told.get(row.id) != row.done or (row.status != "running" and row.id in watch.told) \
                or (row.status != "running" and row.id > watch.floor):
            out.append({"profile": row.profile, "run": row.id, "done": row.done, "total": row.total,
                        "status": row.status})
        if row.status == "running":
            watch.told[row.id] = row.done
        else:
            watch.told.pop(row.id, None)
    watch.floor = max([watch.floor, *(row.id for row in rows)])
    return out


def progress_stream(service: Service, keep: Callable[[Mapping[str, Any]], bool] | None = None) -> Response:
    """Server-sent events: ``progress`` for each document a run writes (G5); a comment every 15 s. With the
    embedded queue the runs publish here directly; with workers elsewhere the store is read every second.
    The console serves the same stream, narrowed to one profile, behind its own sign-in."""
    queue = service.hub.subscribe()
    if service.embedded:
        return sse_response(service.hub, queue, keep=keep)

    async def poll() -> None:
        watch = _Watch(await run_in_threadpool(_start_floor, service))
        while True:
            for message in await run_in_threadpool(_running_progress, service, watch):
                if not queue.full():  # this listener's own queue: other listeners poll for themselves
                    queue.put_nowait(message)
            await asyncio.sleep(1.0)

    return sse_response(service.hub, queue, asyncio.create_task(poll()).cancel, keep)
