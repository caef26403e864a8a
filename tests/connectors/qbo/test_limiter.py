"""The per-company limiter and the retry layer: windows, concurrency cap, 429 bursts, Retry-After, 5xx."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from connectors.qbo.auth import BearerAuth, StaticToken
from connectors.qbo.client import QboClient
from connectors.qbo.config import LimitSpec
from connectors.qbo.exchange import Answer, retry_after_seconds
from connectors.qbo.faults import QboFault
from connectors.qbo.limiter import RateLimiter, limiter_for
from connectors.sandbox import FaultKind, FaultRule, ManualClock, Sandbox
from tests.connectors.qbo.conftest import FakeTime, make_settings


def test_window_admits_500_then_waits_for_the_oldest_to_leave(fake_time: FakeTime) -> None:
    limiter = RateLimiter(LimitSpec(per_minute=500), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    for _ in range(500):
        with limiter.slot():
            pass
    assert fake_time.sleeps == []
    with limiter.slot():
        pass
    assert fake_time.sleeps == [pytest.approx(60.0)]


def test_batch_calls_have_their_own_window_of_40(fake_time: FakeTime) -> None:
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    for _ in range(40):
        limiter.acquire(is_batch=True)
        limiter.release()
    limiter.acquire()  # a plain request is not held by the batch window
    limiter.release()
    assert fake_time.sleeps == []
    limiter.acquire(is_batch=True)
    limiter.release()
    assert fake_time.sleeps == [pytest.approx(60.0)]
    assert limiter.counts() == (1, 1)


def test_pause_holds_every_request_of_the_company(fake_time: FakeTime) -> None:
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    limiter.pause(12.5)
    with limiter.slot():
        pass
    assert fake_time.sleeps == [pytest.approx(12.5)]


def test_one_limiter_per_company_in_a_process() -> None:
    assert limiter_for("A") is limiter_for("A")
    assert limiter_for("A") is not limiter_for("B")


def test_at_most_ten_requests_in_flight(http: httpx.Client, sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.config = type(sandbox.config)(**{**sandbox.config.__dict__, "latency_ms": 30.0})
    limiter = RateLimiter(LimitSpec())  # real time: threads really overlap
    qbo = QboClient(http, make_settings(fake_time), auth=BearerAuth(StaticToken("sandbox-test-token")),
                    limiter=limiter)
    throttled = []
    original = qbo.attempt

    def watch(call: Any) -> Answer:
        answer = original(call)
        if answer.fault is not None:
            throttled.append(answer.fault.kind)
        return answer

    qbo.attempt = watch  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(lambda _: qbo.get("Customer", "52"), range(50)))
    assert len(results) == 50
    assert limiter.peak_in_flight == 10  # the cap is reached (work is concurrent) and never passed
    assert throttled == []  # the sandbox's own 10-at-once limit was never hit


def test_limiter_keeps_under_the_company_window(http: httpx.Client, sandbox: Sandbox, clock: ManualClock) -> None:
    """Limits tighter than QBO's, with the sandbox counting on the same (fake) clock: no 429 at all."""
    sandbox.limits.per_minute = 5
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        clock.advance(seconds)

    limiter = RateLimiter(LimitSpec(per_minute=5), monotonic=fake.monotonic, sleep=sleep)
    qbo = QboClient(http, make_settings(fake, max_attempts=1), auth=BearerAuth(StaticToken("sandbox-test-token")),
                    limiter=limiter)
    for _ in range(12):
        qbo.get("Customer", "52")  # max_attempts=1: a single 429 would raise
    assert limiter.waited >= 120


def test_a_burst_of_429s_with_xml_bodies_is_waited_out(qbo: QboClient, sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.script(FaultRule(FaultKind.THROTTLE, target="query", writes_only=False, times=4))
    rows = qbo.query("select * from Customer")
    assert rows["Customer"]
    kinds = [fault.kind for fault in sandbox.faults.history]
    assert kinds == [FaultKind.THROTTLE] * 4
    assert len(fake_time.sleeps) == 4
    assert fake_time.sleeps[0] < fake_time.sleeps[-1]  # exponential backoff


def test_429_that_never_ends_is_a_transient_fault(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.faults.script(FaultRule(FaultKind.THROTTLE, target="customer", writes_only=False, times=99))
    with pytest.raises(QboFault) as caught:
        qbo.get("Customer", "52")
    assert caught.value.fault.kind == "throttled" and caught.value.fault.transient
    assert len(sandbox.faults.history) == qbo.settings.retry.max_attempts


def test_5xx_on_a_read_is_retried(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.faults.script(FaultRule(FaultKind.SERVER_ERROR, target="customer", writes_only=False, times=2,
                                    status=502))
    assert qbo.get("Customer", "52")["Id"] == "52"
    assert len(sandbox.faults.history) == 2


def test_timeout_on_a_read_is_retried(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.faults.script(FaultRule(FaultKind.TIMEOUT, target="customer", writes_only=False))
    assert qbo.get("Customer", "52")["Id"] == "52"


def _mock(responses: list[httpx.Response]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return responses.pop(0)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="https://qbo.test")


def test_retry_after_is_honoured(fake_time: FakeTime) -> None:
    http = _mock([httpx.Response(429, headers={"Retry-After": "7"}, content=b"<IntuitResponse/>"),
                  httpx.Response(200, json={"Customer": {"Id": "1"}})])
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    qbo = QboClient(http, make_settings(fake_time), limiter=limiter)
    assert qbo.get("Customer", "1") == {"Id": "1"}
    assert fake_time.sleeps[0] == 7.0


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_jittered_backoff_stays_in_bounds(fake_time: FakeTime) -> None:
    policy = make_settings(fake_time).retry
    for attempt in range(8):
        delay = policy.delay(attempt)
        ceiling = min(policy.max_delay, policy.base_delay * 2 ** attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_concurrent_threads_share_one_pause(fake_time: FakeTime) -> None:
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    limiter.pause(5)
    done = []
    threads = [threading.Thread(target=lambda: (limiter.acquire(), limiter.release(), done.append(1)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 5 and fake_time.now >= 1005


class FlakyTokens:
    """A token source whose first refresh hits a token-endpoint outage."""

    def __init__(self) -> None:
        self.calls = 0

    def access_token(self) -> str:
        self.calls += 1
        if self.calls == 1:
            from connectors.qbo.faults import local_fault
            raise QboFault(local_fault("server_error", "token endpoint answered HTTP 503"))
        return "sandbox-test-token"

    def refresh(self, rejected: str) -> str:
        return "sandbox-test-token"


def test_a_token_endpoint_outage_is_retried_not_raised(http: httpx.Client, fake_time: FakeTime) -> None:
    from connectors.qbo.writes import WriteRequest
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    qbo = QboClient(http, make_settings(fake_time), auth=BearerAuth(FlakyTokens()), limiter=limiter)
    result = qbo.write(WriteRequest("Class", "create", {"Name": "After outage"}))
    assert result.ok and result.attempts == 2
