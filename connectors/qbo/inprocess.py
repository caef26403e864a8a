"""A synchronous httpx transport that drives an ASGI app (the sandbox) without sockets.

httpx's ``ASGITransport`` is async only; the connector is synchronous. :class:`AsgiBridge` runs the app
on one event loop in a background thread and hands each request to it, so a ``httpx.Client`` (and any
number of threads sharing it) can call the in-process sandbox exactly as it would call QBO. Exceptions the
app raises (the sandbox raises ``httpx.ReadTimeout`` for an injected timeout) reach the caller unchanged.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

__all__ = ["AsgiBridge"]


class AsgiBridge(httpx.BaseTransport):
    """``httpx.Client(transport=AsgiBridge(app))`` talks to ``app`` in-process."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asgi-bridge", daemon=True)
        self._thread.start()
        self._closed = False

    async def _call(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              extensions=response.extensions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the in-process transport is closed", request=request)
        request.read()  # a sync body stream; the async transport needs the bytes up front
        future = asyncio.run_coroutine_threadsafe(self._call(request), self._loop)
        return future.result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
