"""Throttles (429 / 3001), latency, and fault injection: seeded random faults and scripted ones."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from connectors.sandbox import FaultKind, FaultRule, ManualClock, create_app
from connectors.sandbox.testing import TEST_TOKEN, InProcessClient, test_config
from tests.connectors.sandbox.helpers import FR, fr_invoice


def _count(client: InProcessClient, entity: str) -> int:
    return int(client.sandbox.query(FR, f"select count(*) from {entity}")["totalCount"])


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    return {"requests_per_minute": 5, "batches_per_minute": 2}


def test_requests_per_minute_throttle_answers_429_xml(client: InProcessClient, clock: ManualClock) -> None:
    url = f"{client.company()}/customer/52"
    assert [client.get(url).status_code for _ in range(5)] == [200] * 5
    throttled = client.get(url)
    assert throttled.status_code == 429
    assert 'code="3001"' in throttled.text and "ThrottleExceeded" in throttled.text
    assert throttled.headers["content-type"].startswith("application/xml")
    clock.advance(61)
    assert client.get(url).status_code == 200


def test_batch_calls_per_minute(client: InProcessClient) -> None:
    body = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]}
    statuses = [client.post(f"{client.company()}/batch", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_more_than_10_concurrent_requests_are_throttled() -> None:
    app = create_app(test_config(latency_ms=150))

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json"}
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test", headers=headers) as http:
            responses = await asyncio.gather(*(http.get(f"/v3/company/{FR}/customer/52") for _ in range(12)))
        return sorted(response.status_code for response in responses)

    assert asyncio.run(burst()) == [200] * 10 + [429] * 2


def test_json_throttle_body_option() -> None:
    with InProcessClient(create_app(test_config(requests_per_minute=1, throttle_body="json"))) as client:
        client.get(f"{client.company()}/customer/52")
        response = client.get(f"{client.company()}/customer/52")
        assert response.status_code == 429 and response.json()["Fault"]["Error"][0]["code"] == "3001"


def test_scripted_timeout_after_commit_raises_read_timeout_in_process(client: InProcessClient) -> None:
    client.sandbox.faults.next_write("invoice", FaultKind.TIMEOUT)
    with pytest.raises(httpx.ReadTimeout):
        client.create("Invoice", fr_invoice(), params={"requestid": "t-1"})
    assert _count(client, "Invoice") == 1  # committed before the timeout
    replay = client.create("Invoice", fr_invoice(), params={"requestid": "t-1"})
    assert replay.status_code == 200 and _count(client, "Invoice") == 1
    [fault] = client.sandbox.faults.history
    assert fault.kind is FaultKind.TIMEOUT and fault.after_commit and fault.scripted


def test_scripted_server_error_after_commit(client: InProcessClient) -> None:
    client.sandbox.faults.next_write("customer", FaultKind.SERVER_ERROR, status=502)
    response = client.create("Customer", {"DisplayName": "Committed anyway"})
    assert response.status_code == 502 and response.json()["Fault"]["type"] == "SystemFault"
    assert response.headers["x-sandbox-fault"] == "server_error; after-commit"
    assert client.sandbox.query(FR, "select * from Customer where DisplayName = 'Committed anyway'")


def test_scripted_fault_before_commit_writes_nothing(client: InProcessClient) -> None:
    client.sandbox.faults.script(FaultRule(FaultKind.THROTTLE, after_commit=False, target="invoice", times=2))
    assert [client.create("Invoice", fr_invoice()).status_code for _ in range(3)] == [429, 429, 200]
    assert _count(client, "Invoice") == 1


def test_reads_can_be_scripted_and_other_targets_are_untouched(client: InProcessClient) -> None:
    client.sandbox.faults.script(FaultRule(FaultKind.SERVER_ERROR, target="query", writes_only=False))
    assert client.create("Class", {"Name": "Untouched"}).status_code == 200
    assert client.query("select * from Class").status_code == 503
    assert client.query("select * from Class").status_code == 200


def _run_random(seed: int) -> list[int | str]:
    outcomes: list[int | str] = []
    with InProcessClient(create_app(test_config(fault_rate=0.3, seed=seed))) as client:
        for n in range(40):
            try:
                outcomes.append(client.create("Class", {"Name": f"R{n}"}).status_code)
            except httpx.ReadTimeout:
                outcomes.append("timeout")
        assert _count(client, "Class") == 42  # every write committed, whatever the client saw
    return outcomes


def test_random_faults_are_deterministic_under_a_seed() -> None:
    first, second, other = _run_random(7), _run_random(7), _run_random(8)
    assert first == second and first != other
    failures = [o for o in first if o != 200]
    assert 4 <= len(failures) <= 25
    assert {429, "timeout"} <= set(failures) and set(failures) & {500, 502, 503}


def test_latency_delays_each_request() -> None:
    with InProcessClient(create_app(test_config(latency_ms=60))) as client:
        started = time.perf_counter()
        client.get(f"{client.company()}/customer/52")
        assert time.perf_counter() - started >= 0.06
