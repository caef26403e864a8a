"""Signed but malformed notifications: every shape the parsers do not understand is a BadNotification (400,
nothing stored), never another exception (a 500); one bad event refuses the whole body."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from connectors.sandbox import sign
from engine.serve import intake
from engine.serve.app import create_app
from engine.serve.events import BadNotification, parse_product, parse_qbo
from engine.store import open_store

CLOUD = {"specversion": "1.0", "id": "ce-1", "type": "qbo.invoice.updated.v1", "time": "2026-01-01T00:00:00Z",
         "intuitentityid": "42", "intuitaccountid": "9341450000000001", "data": {}}
LEGACY_ENTITY = {"name": "Invoice", "id": "42", "operation": "Update", "lastUpdated": "2026-01-01T00:00:00.000Z"}


def _legacy(notification: Any) -> bytes:
    return json.dumps({"eventNotifications": [notification]}).encode()


def _change(entities: Any) -> dict[str, Any]:
    return {"realmId": "9341450000000001", "dataChangeEvent": {"entities": entities}}


HOSTILE_QBO: list[tuple[bytes, str]] = [
    (b"[" * 500_000 + b"]" * 500_000, "nested too deeply"),
    (b"\xff\xfe[]", "not JSON"),
    (b"[" + b"9" * 5000 + b"]", "not JSON"),
    (json.dumps([CLOUD, 5]).encode(), "event 1 is a number, not an object"),
    (json.dumps([{**CLOUD, "type": 5}]).encode(), "unknown event type '5'"),
    (json.dumps([{**CLOUD, "type": ["qbo"]}]).encode(), "'type' is a list"),
    (json.dumps([{**CLOUD, "type": "qbo..updated"}]).encode(), "unknown event type"),
    (json.dumps([{**CLOUD, "intuitentityid": {"a": 1}}]).encode(), "'intuitentityid' is an object"),
    (json.dumps([{**CLOUD, "intuitaccountid": None}]).encode(), "has no 'intuitaccountid'"),
    (json.dumps([{**CLOUD, "intuitentityid": ""}]).encode(), "has no 'intuitentityid'"),
    (json.dumps({"eventNotifications": {"a": 1}}).encode(), "eventNotifications is an object, not a list"),
    (_legacy(5), "eventNotifications[0] is a number"),
    (_legacy({"realmId": "1", "dataChangeEvent": []}), "dataChangeEvent is a list, not an object"),
    (_legacy({"realmId": "1", "dataChangeEvent": {"entities": "x"}}), "entities is a string, not a list"),
    (_legacy(_change(["Invoice"])), "entities[0] is a string, not an object"),
    (_legacy(_change([{**LEGACY_ENTITY, "id": [1]}])), "'id' is a list"),
    (_legacy(_change([{**LEGACY_ENTITY, "name": True}])), "'name' is a boolean"),
    (_legacy({"dataChangeEvent": {"entities": [LEGACY_ENTITY]}}), "has no 'realmId'"),
    (_legacy(_change([LEGACY_ENTITY, {"name": "Invoice"}])), "entities[1] has no 'id'"),
]


@pytest.mark.parametrize(("body", "fragment"), HOSTILE_QBO)
def test_malformed_qbo_notifications_are_bad_notifications(body: bytes, fragment: str) -> None:
    with pytest.raises(BadNotification) as caught:
        parse_qbo(body)
    assert fragment in str(caught.value) and len(str(caught.value)) < 400


def test_well_formed_bodies_still_parse() -> None:
    assert [e.entity_id for e in parse_qbo(json.dumps([CLOUD, {**CLOUD, "id": "ce-2", "intuitentityid": 7}]).encode())
            ] == ["42", "7"]
    (event,) = parse_qbo(_legacy(_change([{k: v for k, v in LEGACY_ENTITY.items() if k != "lastUpdated"}])))
    assert (event.entity, event.entity_id, event.operation, event.last_updated) == ("Invoice", "42", "Update", "")
    assert parse_qbo(b"[]") == [] and parse_qbo(b'{"eventNotifications": []}') == []


@pytest.mark.parametrize(("body", "fragment"), [
    (b"[1]", "the event is a list"),
    (b'{"type": {"a": 1}, "data": {"id": "1"}}', "'type' is an object"),
    (b'{"type": "x", "data": {"id": ["1"]}}', "'id' is a list"),
    (b'{"type": "x", "data": {"id": ""}}', "no record with an id"),
    (b'{"type": "x", "id": {}, "data": {"id": "1"}}', "'id' is an object"),
    (b"[" * 500_000, "nested too deeply"),
])
def test_malformed_product_events_are_bad_notifications(body: bytes, fragment: str) -> None:
    with pytest.raises(BadNotification) as caught:
        parse_product("product", body)
    assert fragment in str(caught.value)


def test_signed_malformed_bodies_are_400s_with_nothing_stored(tmp_path: Path) -> None:
    """Through the serve app: each hostile body, correctly signed, is answered 400 and stores no event."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    app = create_app(store, [SimpleNamespace(verifier="verifier", key="p/q", products={})])  # type: ignore[list-item]

    async def post_all() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve.test") as client:
            return [(await client.post("/webhooks/qbo", content=body,
                                       headers={"intuit-signature": sign(body, "verifier")})).status_code
                    for body, _ in HOSTILE_QBO]

    assert asyncio.run(post_all()) == [400] * len(HOSTILE_QBO)
    assert intake.count(store) == 0


def test_a_slow_client_is_cut_with_408_over_real_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers promise 100 bytes, 10 arrive, then nothing: the app answers 408 instead of waiting."""
    import socket

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from engine.serve import body as bodies
    from tests.bounded import HANG_GUARD_SECONDS
    from tests.fakes.server import serve_app

    monkeypatch.setattr(bodies, "BODY_SECONDS", 0.5)

    async def intake_route(request: Any) -> Response:
        raw = await bodies.read_body(request)
        return Response(b"read" if raw is not None else b"too large")

    with serve_app(Starlette(routes=[Route("/in", intake_route, methods=["POST"])])) as base:
        url = httpx.URL(base)
        with socket.create_connection((url.host, url.port), timeout=HANG_GUARD_SECONDS) as sock:
            sock.sendall(b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            answer = b""
            while b"in time" not in answer and (chunk := sock.recv(4096)):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"not received in time" in answer


def test_five_thousand_events_fit_in_one_body_and_parse() -> None:
    """One signed CloudEvents body of 5,000 changes (1.4 MB) is inside the body bound and yields 5,000
    distinct events. (Storing them is one transaction per event today: see docs/security.md.)"""
    from connectors.sandbox.operations import Change
    from connectors.sandbox.webhooks import cloudevents_body
    from engine.serve.body import MAX_BODY

    body = cloudevents_body([Change("9341450000000001", "Invoice", str(n), "Update", "2026-01-01T00:00:00+00:00")
                             for n in range(5000)])
    events = parse_qbo(body)
    assert 1_000_000 < len(body) <= MAX_BODY and len({e.dedupe_key for e in events}) == 5000
