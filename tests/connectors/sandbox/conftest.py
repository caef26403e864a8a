"""Fixtures: an in-process sandbox (FR and US realms, manual clock, static token) and its client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.sandbox import ManualClock, RealmSpec, Sandbox, create_app
from connectors.sandbox.testing import InProcessClient, test_config
from tests.connectors.sandbox.helpers import FR, US


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Overridden by test modules that need another configuration."""
    return {}


@pytest.fixture
def client(clock: ManualClock, config_overrides: dict[str, Any]) -> Iterator[InProcessClient]:
    values: dict[str, Any] = {"realms": (RealmSpec(FR, "fr"), RealmSpec(US, "us")), "clock": clock}
    values.update(config_overrides)
    with InProcessClient(create_app(test_config(**values))) as c:
        yield c
        c.sandbox.close()


@pytest.fixture
def sandbox(client: InProcessClient) -> Sandbox:
    return client.sandbox
