"""Deciding a conflict (engine/runtime/decide.py; a record edited in QBO by hand while the product changed it
too), through the jobs the service runs: keep ours writes the product's values over QBO's edit; take QBO's
keeps QuickBooks' values until the product changes the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from engine.errors import PasserelleError
from engine.fleet.deployment import Deployment
from engine.fleet.jobs import JobSpec
from engine.fleet.runner import Runner
from engine.runtime.decide import decide_conflict
from engine.runtime.history import list_errors
from engine.store import Store
from tests.engine.fleet.conftest import KeptOpen


def _conflict(tmp_path: Path, sandbox: Sandbox, runner: Runner, key: str, realm: str) -> int:
    """Sync; then the product moves invoice 5001's due date while someone edits it in QBO: a conflict."""
    runner(JobSpec(key, "scheduled", realm))
    data = tmp_path / "deployment" / "_data" / key.split("/")[1] / "invoices.json"
    records = json.loads(data.read_text(encoding="utf-8"))
    next(r for r in records if r["invoiceid"] == 5001)["due_date"] = "2024-05-31"
    data.write_text(json.dumps(records), encoding="utf-8")
    prefix = "P" + key.rsplit("-", 1)[1] + "-"
    live = next(i for i in sandbox.query(realm, "SELECT * FROM Invoice")["Invoice"] if i["DocNumber"] == f"{prefix}5001")
    sandbox.write(realm, "Invoice", {"Id": live["Id"], "SyncToken": live["SyncToken"], "sparse": True,
                                     "DueDate": "2024-06-15"})
    runner(JobSpec(key, "scheduled", realm))
    (error,) = [e for e in list_errors(runner.store, key) if e.status == "open"]
    assert error.fault_class == "conflict" and error.source_key == "5001"
    return error.id


def _due(sandbox: Sandbox, realm: str, number: str) -> str:
    return next(i for i in sandbox.query(realm, "SELECT * FROM Invoice")["Invoice"] if i["DocNumber"] == number)["DueDate"]


@pytest.mark.parametrize("choice", ["ours", "theirs"])
def test_a_decided_conflict_is_written_or_kept_and_closed(*, tmp_path: Path, store: Store, deployment: Deployment,
                                                           bridge: KeptOpen, sandbox: Sandbox, choice: str) -> None:
    runner = Runner(store, deployment, {"transport": bridge, "token": "sandbox-test-token"})
    entry = deployment.get("freshbooks/fleet-001")
    assert entry is not None and entry.realm
    error_id = _conflict(tmp_path, sandbox, runner, entry.key, entry.realm)
    with runner.session(entry) as session:
        with pytest.raises(PasserelleError, match="no conflict #999"):
            decide_conflict(session, 999, choice, session.target.client.get)
        decision = decide_conflict(session, error_id, choice, session.target.client.get)
        assert decision.write_needed == (choice == "ours")
        plan = session.plan(record="5001", manual=True)
        actions = [c.action for c in plan.changes if c.key == "5001"]
    assert all(e.status != "open" for e in list_errors(store, entry.key))
    if choice == "ours":
        assert actions == ["update"]
        runner(JobSpec(entry.key, "manual", entry.realm, "5001"))
        assert _due(sandbox, entry.realm, "P001-5001") == "2024-05-31"
    else:
        assert actions == []  # QBO's edit stands: nothing to send
        runner(JobSpec(entry.key, "scheduled", entry.realm))
        assert _due(sandbox, entry.realm, "P001-5001") == "2024-06-15"
        assert [e for e in list_errors(store, entry.key) if e.status == "open"] == []
