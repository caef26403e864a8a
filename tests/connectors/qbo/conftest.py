"""Fixtures: an in-process sandbox (manual clock) and a QBO client wired to it through the sync ASGI bridge.

Backoff never sleeps for real: the retry policy and the limiter get a fake clock whose ``sleep`` only
records and advances time.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.qbo.auth import BearerAuth, StaticToken
from connectors.qbo.client import QboClient
from connectors.qbo.config import ClientSettings, LimitSpec, RetryPolicy
from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.limiter import RateLimiter, forget_limiters
from connectors.sandbox import ManualClock, RealmSpec, Sandbox, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN, test_config
from tests.connectors.qbo.helpers import FR, US


class FakeTime:
    """monotonic() and sleep() for limiters and backoff: sleeping only moves this clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    forget_limiters()
    yield
    forget_limiters()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sandbox_overrides() -> dict[str, Any]:
    """Overridden by test modules that need another sandbox configuration."""
    return {}


@pytest.fixture
def app(clock: ManualClock, sandbox_overrides: dict[str, Any]) -> Any:
    values: dict[str, Any] = {"realms": (RealmSpec(FR, "fr"), RealmSpec(US, "us")), "clock": clock}
    values.update(sandbox_overrides)
    return create_app(test_config(**values))


@pytest.fixture
def sandbox(app: Any) -> Iterator[Sandbox]:
    state = sandbox_of(app)
    yield state
    state.close()


@pytest.fixture
def http(app: Any) -> Iterator[httpx.Client]:
    with httpx.Client(transport=AsgiBridge(app), base_url="http://sandbox.test") as client:
        yield client


def make_settings(fake_time: FakeTime, realm_id: str = FR, **overrides: Any) -> ClientSettings:
    retry = RetryPolicy(max_attempts=overrides.pop("max_attempts", 6), base_delay=0.5, max_delay=8,
                        sleep=fake_time.sleep, rng=random.Random(7))
    return ClientSettings(realm_id=realm_id, profile=overrides.pop("profile", "test/profile"), retry=retry,
                          **overrides)


@pytest.fixture
def qbo(http: httpx.Client, fake_time: FakeTime) -> QboClient:
    settings = make_settings(fake_time)
    limiter = RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    return QboClient(http, settings, auth=BearerAuth(StaticToken(TEST_TOKEN)), limiter=limiter)
