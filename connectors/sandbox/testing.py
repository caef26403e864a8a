"""Helpers for tests that drive the sandbox in-process through httpx's ``ASGITransport``.

:class:`InProcessClient` is a synchronous facade over ``httpx.AsyncClient`` + ``ASGITransport`` that
keeps one event loop, so tests stay plain functions. An injected timeout (``timeout_mode="raise"``)
surfaces from its calls as ``httpx.ReadTimeout``, exactly as a real client timeout would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.applications import Starlette

from connectors.sandbox.app import create_app, sandbox_of
from connectors.sandbox.clock import ManualClock
from connectors.sandbox.config import SandboxConfig
from connectors.sandbox.sandbox import Sandbox

__all__ = ["TEST_TOKEN", "InProcessClient", "test_config"]

TEST_TOKEN = "sandbox-test-token"


def test_config(**overrides: Any) -> SandboxConfig:
    """A config for tests: a static bearer token, a manual clock, and the given overrides."""
    values: dict[str, Any] = {"static_tokens": (TEST_TOKEN,), "clock": ManualClock()}
    values.update(overrides)
    return SandboxConfig(**values)


test_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name


class InProcessClient:
    """Synchronous HTTP client for a sandbox app, without sockets."""

    def __init__(self, app: Starlette | None = None, *, token: str | None = TEST_TOKEN,
                 base_url: str = "http://sandbox.test") -> None:
        self.app = app or create_app(test_config())
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._runner = asyncio.Runner()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=base_url,
                                         headers=headers)

    @property
    def sandbox(self) -> Sandbox:
        return sandbox_of(self.app)

    def company(self, realm_id: str | None = None) -> str:
        """The company URL prefix, e.g. ``/v3/company/9341450000000001``."""
        return f"/v3/company/{realm_id or self.sandbox.default_realm_id}"

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def create(self, entity: str, body: Mapping[str, Any], realm_id: str | None = None,
               params: Mapping[str, str] | None = None) -> httpx.Response:
        return self.post(f"{self.company(realm_id)}/{entity.lower()}", json=dict(body),
                         params={"minorversion": "75", **(params or {})})

    def query(self, text: str, realm_id: str | None = None) -> httpx.Response:
        return self.post(f"{self.company(realm_id)}/query", content=text.encode("utf-8"),
                         headers={"Content-Type": "application/text"}, params={"minorversion": "75"})

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()

    def __enter__(self) -> InProcessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
