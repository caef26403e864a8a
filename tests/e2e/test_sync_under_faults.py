"""Issue-level acceptance: a full sync of the demo profile against a sandbox that fails 15 % of
requests (5xx, 429 and timeouts after the write is committed) and expires access tokens every
5 seconds ends with exactly the documents of a fault-free run, and exits 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, create_app, sandbox_of, serve
from engine.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "rules/freshbooks/customers/demo.yaml")
REALM = DEFAULT_REALM_IDS["fr"]
ENTITIES = {"Invoice": "DocNumber", "Payment": "PaymentRefNum", "Bill": "DocNumber", "Customer": "DisplayName",
            "Vendor": "DisplayName", "Item": "Name"}


def _documents(sandbox: Any) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for entity, label in ENTITIES.items():
        rows = sandbox.query(REALM, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, [])
        out[entity] = sorted((row.get(label), str(row.get("TotalAmt")), str(row.get("Balance"))) for row in rows)
    return out


SECRET_MARKS = ("sbx-at-", "sbx-rt-", "sandbox-client-secret")  # the sandbox's token prefixes and app secret


def _no_secret(text: str, key: str) -> None:
    for mark in (*SECRET_MARKS, key):
        assert mark not in text, f"a secret ({mark[:8]}...) appeared in the output"


def _sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault_rate: float) -> tuple[dict[str, Any], list[Any]]:
    forget_limiters()
    config = SandboxConfig(realms=(RealmSpec(REALM, "fr"),), fault_rate=fault_rate, seed=7, token_ttl=5.0,
                           timeout_mode="delay", timeout_delay=1.5)
    app = create_app(config)
    sandbox = sandbox_of(app)
    with serve(app) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / f"state-{fault_rate}.db"))
        key = Fernet.generate_key().decode()
        monkeypatch.setenv("PASSERELLE_SECRET_KEY", key)
        monkeypatch.setenv("PASSERELLE_QBO_TIMEOUT", "1")
        monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
        monkeypatch.delenv("PASSERELLE_QBO_REALM", raising=False)
        runner = CliRunner()
        connected = runner.invoke(cli, ["connect", DEMO, "--no-browser"])
        assert connected.exit_code == 0, connected.output
        result = runner.invoke(cli, ["sync", DEMO])
        assert "Traceback" not in result.output
        assert result.exit_code == 0, result.output
        plan = runner.invoke(cli, ["plan", DEMO, "--json"])
        for output in (connected.output, result.output, plan.output):
            _no_secret(output, key)
        documents = _documents(sandbox)
        faults = list(sandbox.faults.history)
    sandbox.close()
    forget_limiters()
    return documents, faults


@pytest.mark.e2e
def test_E2_full_sync_under_faults_and_short_tokens_matches_a_fault_free_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean, none = _sync(tmp_path, monkeypatch, 0.0)
    assert none == [] and len(clean["Invoice"]) == 2 and len(clean["Bill"]) == 3
    faulty, injected = _sync(tmp_path, monkeypatch, 0.15)
    assert injected, "the sandbox injected no fault: the test would prove nothing"
    print(f"injected faults: {len(injected)}: {sorted(str(getattr(f, 'kind', f)) for f in injected)}")
    assert faulty == clean
