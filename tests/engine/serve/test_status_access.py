"""`passerelle serve`'s status and event stream need the admin token when one is set, as `passerelle run`'s do."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.serve.access import ADMIN_TOKEN_VARIABLE
from engine.serve.app import create_app
from engine.store import open_store
from tests.fakes.server import serve_app


def test_status_and_stream_need_the_admin_token_when_one_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(str(tmp_path / "state.db"))
    app = create_app(store, [])
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        monkeypatch.delenv(ADMIN_TOKEN_VARIABLE, raising=False)
        assert client.get("/status").status_code == 200  # no token set: a server on loopback stays open
        monkeypatch.setenv(ADMIN_TOKEN_VARIABLE, "s3cret-token")
        for path in ("/status", "/status/stream"):  # refused before the stream opens
            refused = client.get(path)
            assert refused.status_code == 401 and ADMIN_TOKEN_VARIABLE in refused.json()["error"]
            assert client.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
        answer = client.get("/status", headers={"authorization": "Bearer s3cret-token"})
        assert answer.status_code == 200 and "s3cret-token" not in answer.text
    store.dispose()
