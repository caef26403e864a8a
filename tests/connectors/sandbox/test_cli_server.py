"""The ``passerelle sandbox`` command and the real-HTTP helper (uvicorn on a loopback port)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from connectors.sandbox import FaultKind, RealmSpec, Sandbox, WebhookTarget, serve, sign
from connectors.sandbox.cli import build_config, sandbox
from connectors.sandbox.testing import TEST_TOKEN, test_config
from tests.connectors.sandbox.helpers import FR, US, fr_invoice

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json"}


def test_build_config_from_options(tmp_path: Path) -> None:
    config = build_config(presets=("fr", "us"), realms=(), latency=5, faults=0.1, token_ttl=60, data=tmp_path,
                          webhook_urls=("http://h.test/x",), webhook_format="legacy", webhook_token="t",
                          static_token=(), seed=3, no_auth=False)
    assert config.realms == (RealmSpec(FR, "fr"), RealmSpec(US, "us"))
    assert (config.latency_ms, config.fault_rate, config.token_ttl, config.seed) == (5, 0.1, 60, 3)
    assert config.webhooks == (WebhookTarget("http://h.test/x", "legacy"),) and config.timeout_mode == "delay"


def test_cli_help_lists_options() -> None:
    result = CliRunner().invoke(sandbox, ["--help"])
    for option in ("--port", "--preset", "--latency", "--faults", "--token-ttl", "--data", "--webhook-url"):
        assert option in result.output


def test_passerelle_sandbox_starts_and_answers(tmp_path: Path) -> None:
    """The command serves the API; how fast it starts is measured by bench/sandbox_startup.py, not here."""
    command = [sys.executable, "-c", "from engine.cli.main import main; main()", "sandbox", "--preset", "fr",
               "--port", "0", "--static-token", "cli-token"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=Path(__file__).resolve().parents[3])
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "QBO sandbox on http://127.0.0.1:" in first, first
        base = first.split(" on ")[1].strip()
        answered = None
        while time.monotonic() - started < 60 and answered is None:
            try:
                answered = httpx.get(f"{base}/v3/company/{FR}/companyinfo/{FR}",
                                     headers={"Authorization": "Bearer cli-token", "Accept": "application/json"})
            except httpx.TransportError:
                time.sleep(0.02)
        assert answered is not None and answered.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_over_real_http() -> None:
    with serve(test_config()) as base:
        response = httpx.post(f"{base}/v3/company/{FR}/invoice", json=fr_invoice(), headers=HEADERS)
        assert response.status_code == 200 and response.json()["Invoice"]["TotalAmt"] == 396.93
        assert response.headers["intuit_tid"]


def test_timeout_after_commit_over_http_is_a_late_answer() -> None:
    state = Sandbox(test_config(timeout_delay=1.0))
    state.faults.next_write("invoice", FaultKind.TIMEOUT)
    with serve(state) as base:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v3/company/{FR}/invoice", json=fr_invoice(), headers=HEADERS, timeout=0.3)
        assert state.query(FR, "select count(*) from Invoice")["totalCount"] == 1


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["intuit-signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_webhooks_over_real_http() -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        state = Sandbox(test_config(webhooks=(WebhookTarget(url, "legacy"),), webhook_token="tok"))
        with serve(state) as base:
            httpx.post(f"{base}/v3/company/{FR}/customer", json={"DisplayName": "Hooked"}, headers=HEADERS)
            assert state.webhooks.drain()
        body, signature = _Hook.received[-1]
        assert signature == sign(body, "tok")
        assert json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["name"] == "Customer"
        state.close()
    finally:
        receiver.shutdown()
        receiver.server_close()
