"""A product's record keys of any length work on PostgreSQL as on SQLite (ledger, outbox, error history):
a 600-character invoice id syncs, and a second sync finds it unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from engine.fleet.deployment import Deployment
from engine.fleet.jobs import JobSpec
from engine.fleet.runner import Runner
from engine.runtime.ledger import StoreLedger
from engine.store import Store
from tests.engine.fleet.conftest import KeptOpen

pytestmark = pytest.mark.postgres


def test_a_600_character_product_key_syncs_on_postgresql(tmp_path: Path, profiles: dict[str, str], pg_store: Store,
                                                          bridge: KeptOpen, sandbox: Sandbox) -> None:
    data = tmp_path / "deployment" / "_data" / "fleet-001"
    long_id = "inv-" + "x" * 596
    invoices = json.loads((data / "invoices.json").read_text(encoding="utf-8"))
    payments = json.loads((data / "payments.json").read_text(encoding="utf-8"))
    old = invoices[0]["invoiceid"]
    invoices[0]["invoiceid"] = long_id
    for payment in payments:
        if payment["invoiceid"] == old:
            payment["invoiceid"] = long_id
    (data / "invoices.json").write_text(json.dumps(invoices), encoding="utf-8")
    (data / "payments.json").write_text(json.dumps(payments), encoding="utf-8")
    deployment = Deployment([tmp_path / "deployment" / "profiles"], pg_store)
    deployment.scan()
    runner = Runner(pg_store, deployment, {"transport": bridge, "token": "sandbox-test-token"})
    entry = deployment.get("freshbooks/fleet-001")
    assert entry is not None and entry.realm
    first = runner(JobSpec(entry.key, "scheduled", entry.realm))
    assert first.counts.get("create") and "failed" not in (first.note or "")
    assert StoreLedger(pg_store, entry.key).target_id("invoices", long_id) is not None
    assert runner(JobSpec(entry.key, "scheduled", entry.realm)).note == "nothing to do"
