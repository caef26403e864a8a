"""Request bodies read within a bound: a notification is a few kilobytes, so a larger body is refused
(413) before it is read whole, however it is sent (declared length or chunks)."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["MAX_BODY", "read_body"]

MAX_BODY = 1_000_000  # bytes


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` (nothing past the limit is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
