"""Request bodies read within bounds: a notification is at most a few megabytes (5,000 CloudEvents
take 1.4 MB), so a larger body is refused (413) before it is read whole, however it is sent (declared
length or chunks), and a client that sends it too slowly is cut (408) instead of holding a connection
open forever."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.requests import Request

__all__ = ["BODY_SECONDS", "MAX_BODY", "read_body"]

MAX_BODY = 4_000_000  # bytes: room for 5,000 CloudEvents (1.4 MB) with long ids
BODY_SECONDS = 30.0  # to receive a whole body once the headers are in


async def read_body(request: Request, limit: int = MAX_BODY, seconds: float | None = None) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` (nothing past the limit is read).

    A body not received within ``seconds`` (default ``BODY_SECONDS``) raises HTTP 408, which the app
    answers as such; nothing is stored."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_SECONDS if seconds is None else seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(408, "the request body was not received in time") from None
    return b"".join(chunks)
