"""Fleet fixtures: generated FreshBooks profiles (file data) on two in-process sandbox companies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import Sandbox, SandboxConfig, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN
from engine.fleet.deployment import Deployment
from engine.store import Store, open_store
from tests.e2e.fleet_lab import write_profiles


@pytest.fixture
def sandbox_app() -> Iterator[Any]:
    forget_limiters()
    app = create_app(SandboxConfig.with_companies(2, static_tokens=(TEST_TOKEN,)))
    yield app
    sandbox_of(app).close()
    forget_limiters()


@pytest.fixture
def sandbox(sandbox_app: Any) -> Sandbox:
    return sandbox_of(sandbox_app)


class KeptOpen(httpx.BaseTransport):
    """The in-process sandbox for one job after another: each job's session closes its client, not this."""

    def __init__(self, inner: AsgiBridge) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


@pytest.fixture
def bridge(sandbox_app: Any) -> Iterator[KeptOpen]:
    transport = AsgiBridge(sandbox_app)
    yield KeptOpen(transport)
    transport.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "state.db"))
    yield opened
    opened.dispose()


@pytest.fixture
def profiles(tmp_path: Path, sandbox: Sandbox) -> dict[str, str]:
    """Three profiles: two on the first company, one on the second (key -> realm)."""
    realms = sandbox.realm_ids
    return write_profiles(tmp_path / "deployment", (realms[0], realms[1], realms[0]), 3)


@pytest.fixture
def deployment(tmp_path: Path, profiles: dict[str, str], store: Store) -> Deployment:
    found = Deployment([tmp_path / "deployment" / "profiles"], store, env={"PASSERELLE_QBO_WEBHOOK_TOKEN": "verifier"})
    found.scan()
    return found
