"""Webhook bodies and dedupe keys are bounded: a huge body is refused before it is read, and long event ids
are hashed to fit the store, never cut (two cut ids could collide and drop a real event)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from engine.serve.body import MAX_BODY, read_body
from engine.serve.events import QboEvent, bounded_key


def test_long_event_ids_never_collide_by_truncation() -> None:
    a = QboEvent("1", "Invoice", "1", "Update", event_id="x" * 400 + "a")
    b = QboEvent("1", "Invoice", "1", "Update", event_id="x" * 400 + "b")
    assert a.dedupe_key != b.dedupe_key and len(a.dedupe_key) <= 255
    assert QboEvent("1", "Invoice", "1", "Update", event_id="ce-1").dedupe_key == "ce:ce-1"
    assert bounded_key("k" * 255) == "k" * 255 and bounded_key("k" * 256).startswith("sha256:")


def _request(chunks: list[bytes], declared: int | None = None) -> Request:
    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    pending = [*chunks]
    read: list[int] = []

    async def receive() -> dict[str, object]:
        chunk = pending.pop(0) if pending else b""
        read.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    request.state.read = read
    return request


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole() -> None:
    assert asyncio.run(read_body(_request([b"x" * 10], declared=MAX_BODY + 1))) is None  # by its declared length
    chunked = _request([b"x" * 400_000] * 25)  # 10 MB in chunks, no length declared
    assert asyncio.run(read_body(chunked)) is None
    assert sum(chunked.state.read) <= MAX_BODY + 400_000  # stopped at the limit, not at the end
    assert asyncio.run(read_body(_request([b"{}", b"[]"]))) == b"{}[]"
