from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.limiter import forget_limiters
from connectors.qbo_session import open_qbo
from connectors.qbo_target import QboTarget
from connectors.sandbox import DEFAULT_REALM_IDS, Sandbox, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN, test_config
from engine.pipeline import Loaded, run_pipeline
from engine.store import Store, open_store

ROOT = Path(__file__).resolve().parents[3]
REALM = DEFAULT_REALM_IDS["fr"]


@pytest.fixture
def app() -> Iterator[Any]:
    forget_limiters()
    application = create_app(test_config())
    yield application
    sandbox_of(application).close()
    forget_limiters()


@pytest.fixture
def sandbox(app: Any) -> Sandbox:
    return sandbox_of(app)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(str(tmp_path / "state.db"))


@pytest.fixture
def demo() -> Loaded:
    return run_pipeline(ROOT / "rules/freshbooks/customers/demo.yaml")


@pytest.fixture
def target(app: Any, demo: Loaded, store: Store) -> Iterator[QboTarget]:
    bridge = AsgiBridge(app)
    qbo = open_qbo(demo.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
    yield qbo
    qbo.client.close()
    bridge.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    """The sandbox over real HTTP, configured through the environment as a user would."""
    from connectors.sandbox import serve

    forget_limiters()
    application = create_app(test_config())
    with serve(application) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_QBO_REALM", REALM)
        monkeypatch.setenv("PASSERELLE_QBO_ACCESS_TOKEN", TEST_TOKEN)
        monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
        yield sandbox_of(application)
    sandbox_of(application).close()
    forget_limiters()

