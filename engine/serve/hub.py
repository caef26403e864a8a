"""Run progress fanned out to server-sent-event listeners: the worker thread publishes, each
``/status/stream`` client reads its own asyncio queue (G5 live progress)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.responses import StreamingResponse

__all__ = ["Hub", "sse_response"]


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Mapping[str, Any]]]] = []

    def subscribe(self) -> asyncio.Queue[Mapping[str, Any]]:
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._listeners.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Mapping[str, Any]]) -> None:
        with self._lock:
            self._listeners = [(loop, q) for loop, q in self._listeners if q is not queue]

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    def publish(self, message: Mapping[str, Any]) -> None:
        """Thread-safe; a slow listener whose queue is full misses messages rather than blocking the worker."""
        with self._lock:
            listeners = list(self._listeners)
        for loop, queue in listeners:
            try:
                loop.call_soon_threadsafe(_offer, queue, dict(message))
            except RuntimeError:  # that listener's loop is closed
                self.unsubscribe(queue)


def _offer(queue: asyncio.Queue[Mapping[str, Any]], message: Mapping[str, Any]) -> None:
    if not queue.full():
        queue.put_nowait(message)


def sse_response(hub: Hub, queue: asyncio.Queue[Mapping[str, Any]], on_close: Callable[[], object] | None = None,
                 keep: Callable[[Mapping[str, Any]], bool] | None = None) -> StreamingResponse:
    """The listener's queue as server-sent events: ``event: progress`` for run ticks (they carry ``done``),
    ``event: event`` for the rest, and a comment every 15 s so proxies keep the connection open. ``keep``
    chooses the messages this listener may see."""

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if keep is not None and not keep(message):
                    continue
                kind = "progress" if "done" in message else "event"
                yield f"event: {kind}\ndata: {json.dumps(message, default=str)}\n\n".encode()
        finally:
            hub.unsubscribe(queue)
            if on_close is not None:
                on_close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
