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


def _running_progress(service: Service, seen: dict[int, int]) -> list[dict[str, object]]:
    """Progress of the runs under way in other processes (the fleet's workers), read from the store."""
    with service.store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.profile, runs.c.done, runs.c.total, runs.c.status)
                            .where(sa.or_(runs.c.status == "running", runs.c.id.in_(list(seen) or [-1])))).all()
    out: list[dict[str, object]] = []
    for row in rows:
        if seen.get(row.id) != row.done:
            seen[row.id] = row.done
            out.append({"profile": row.profile, "run": row.id, "done": row.done, "total": row.total,
                        "status": row.status})
        if row.status != "running":
            seen.pop(row.id, None)
    return out


def progress_stream(service: Service, keep: Callable[[Mapping[str, Any]], bool] | None = None) -> Response:
    """Server-sent events: ``progress`` for each document a run writes (G5); a comment every 15 s. With the
    embedded queue the runs publish here directly; with workers elsewhere the store is read every second.
    The console serves the same stream, narrowed to one profile, behind its own sign-in."""
    queue = service.hub.subscribe()
    if service.embedded:
        return sse_response(service.hub, queue, keep=keep)
    seen: dict[int, int] = {}

    async def poll() -> None:
        while True:
            for message in await run_in_threadpool(_running_progress, service, seen):
                if not queue.full():  # this listener's own queue: other listeners poll for themselves
                    queue.put_nowait(message)
            await asyncio.sleep(1.0)

    return sse_response(service.hub, queue, asyncio.create_task(poll()).cancel, keep)
