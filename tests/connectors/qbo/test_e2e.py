"""Over real HTTP (a served sandbox on a loopback port): `passerelle connect`, a client run with token
expiry and a lost answer, and no secret anywhere in logs, errors, output or results."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import httpx
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connectors.qbo.cli import CallbackListener, run_connect
from connectors.qbo.config import RetryPolicy
from connectors.qbo.faults import QboFault, ReconnectRequired
from connectors.qbo.oauth import AppCredentials
from connectors.qbo.profile import open_client
from connectors.qbo.tokens import SecretBox, TokenStore
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import FaultKind, ManualClock, RealmSpec, Sandbox, create_app, sandbox_of, serve
from connectors.sandbox.testing import test_config
from engine.cli.main import cli
from engine.pipeline import find_profile, run_pipeline
from engine.store import open_store
from tests.connectors.qbo.helpers import FR, count, fr_invoice

pytestmark = pytest.mark.e2e
PROFILE = "freshbooks/demo"
CLIENT_SECRET = "sandbox-client-secret"  # the sandbox app's; must never be printed or logged either


@pytest.fixture
def served(clock: ManualClock) -> Iterator[tuple[str, Sandbox]]:
    app = create_app(test_config(realms=(RealmSpec(FR, "fr"),), clock=clock, token_ttl=5.0, timeout_delay=1.0,
                                 static_tokens=()))
    with serve(app) as base_url:
        yield base_url, sandbox_of(app)
        sandbox_of(app).close()


@pytest.fixture
def env(served: tuple[str, Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"PASSERELLE_QBO_BASE_URL": served[0], "PASSERELLE_SECRET_KEY": Fernet.generate_key().decode(),
              "PASSERELLE_STATE": str(tmp_path / "state.db")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _resolved() -> Any:
    return run_pipeline(find_profile(PROFILE)).resolved


def test_connect_runs_the_code_flow_without_a_browser(env: dict[str, str], served: tuple[str, Sandbox]) -> None:
    result = CliRunner().invoke(cli, ["connect", PROFILE])
    assert result.exit_code == 0, result.output
    assert f"company {FR}" in result.output
    row = TokenStore(open_store(), SecretBox.from_env()).load("freshbooks/demo")
    assert row is not None and row.realm_id == FR and row.access_token.startswith("sbx-at-")


def test_connect_refuses_a_callback_with_a_wrong_state(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def forged(http: httpx.Client, url: str, redirect_uri: str) -> bool:
        with urlopen(f"{redirect_uri}?code=stolen&state=forged&realmId={FR}", timeout=5):
            return True

    monkeypatch.setattr("connectors.qbo.cli._auto_approve", forged)
    with pytest.raises(QboFault) as caught:
        run_connect(PROFILE, echo=lambda text: None)
    assert "wrong state" in str(caught.value)
    assert TokenStore(open_store(), SecretBox.from_env()).load("freshbooks/demo") is None


def test_first_connect_without_secret_key_keeps_a_new_key_beside_the_state_store(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PASSERELLE_SECRET_KEY")
    result = CliRunner().invoke(cli, ["connect", PROFILE])
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "secret.key"  # PASSERELLE_STATE is tmp_path/state.db
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in result.output and "PASSERELLE_SECRET_KEY" in result.output
    key = key_file.read_text(encoding="utf-8").strip()
    assert key not in result.output
    row = TokenStore(open_store(), SecretBox.from_env()).load("freshbooks/demo")  # later runs read the file
    assert row is not None and row.realm_id == FR
    assert CliRunner().invoke(cli, ["connect", PROFILE]).exit_code == 0  # reconnecting keeps the same key
    assert key_file.read_text(encoding="utf-8").strip() == key


def test_the_secret_key_variable_wins_over_the_key_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text(Fernet.generate_key().decode() + "\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["connect", PROFILE]).exit_code == 0
    row = TokenStore(open_store(), SecretBox(env["PASSERELLE_SECRET_KEY"])).load("freshbooks/demo")
    assert row is not None and row.realm_id == FR


def test_a_postgresql_state_store_needs_the_secret_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QboFault) as missing:
        SecretBox.from_env({"PASSERELLE_STATE": "postgresql://user@db.example/passerelle"}, create=True)
    assert "PASSERELLE_SECRET_KEY is not set" in str(missing.value) and "Fernet.generate_key" in str(missing.value)


def test_callback_listener_ignores_other_paths() -> None:
    with CallbackListener() as listener:
        with pytest.raises(HTTPError) as caught:
            urlopen(listener.redirect_uri.replace("/callback", "/other"), timeout=5)
        caught.value.close()
        assert caught.value.code == 404 and listener.wait(0.01) is None


def test_client_run_over_http_with_expiry_and_a_lost_answer(env: dict[str, str], served: tuple[str, Sandbox],
                                                            clock: ManualClock) -> None:
    assert CliRunner().invoke(cli, ["connect", PROFILE]).exit_code == 0
    sandbox = served[1]
    fast = RetryPolicy(base_delay=0.01, max_delay=0.05)
    with open_client(_resolved(), clock=clock.now, retry=fast, timeout=0.3) as qbo:
        assert qbo.get("Customer", "52")["Id"] == "52"
        clock.advance(10)  # the access token (5 s) expired mid-run
        before = count(sandbox, "Invoice")
        sandbox.faults.next_write("invoice", FaultKind.TIMEOUT, after_commit=True)  # answers after 1 s: we give up
        result = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-E2E"), flow="inv", source_key="e2e"))
        assert result.ok and result.recovered
        assert count(sandbox, "Invoice") == before + 1


def test_no_secret_in_logs_errors_output_or_results(env: dict[str, str], served: tuple[str, Sandbox],
                                                    clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = served[1]
    seen: list[str] = []
    connected = CliRunner().invoke(cli, ["connect", PROFILE])
    seen.append(connected.output)
    store = TokenStore(open_store(), SecretBox.from_env())
    secrets = {CLIENT_SECRET, sandbox.config.webhook_token, env["PASSERELLE_SECRET_KEY"]}
    fast = RetryPolicy(base_delay=0.01, max_delay=0.05)
    with open_client(_resolved(), clock=clock.now, retry=fast) as qbo:
        row = store.load("freshbooks/demo")
        assert row is not None
        secrets |= {row.access_token, row.refresh_token}
        results = [qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-LEAK"))),
                   qbo.write(WriteRequest("Invoice", "create", {"Line": []}))]
        clock.advance(10)
        results.append(qbo.write(WriteRequest("Customer", "create", {"DisplayName": "Leak Ltd"})))
        row = store.load("freshbooks/demo")
        assert row is not None and row.previous_refresh_token
        secrets |= {row.access_token, row.refresh_token}
        basic = AppCredentials("sandbox-client-id", CLIENT_SECRET).basic()
        sandbox.oauth.revoke(row.refresh_token, basic)  # both the current and the previous refresh token
        sandbox.oauth.revoke(row.previous_refresh_token, basic)
        clock.advance(10)
        with pytest.raises(ReconnectRequired) as caught:
            qbo.get("Customer", "52")
        seen += [str(caught.value), repr(caught.value), json.dumps(caught.value.fault.as_dict())]
        seen += [repr(qbo.auth), repr(qbo.auth.source), repr(store.load("freshbooks/demo"))]  # type: ignore[union-attr]
        seen += [repr(result) + json.dumps(result.fault.as_dict() if result.fault else {}) for result in results]
        seen += [repr(dataclasses.asdict(result.request)) for result in results]
    seen.append(caplog.text)
    assert "HTTP Request" in caplog.text  # the logs were really captured
    text = "\n".join(seen)
    leaked = sorted(secret for secret in secrets if secret and secret in text)
    assert leaked == [], "secrets found in logs, errors or results"
