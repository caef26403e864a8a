"""A job is one call of the sync runtime: the shipped pack against an in-process sandbox company."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox import Sandbox
from connectors.sandbox.testing import TEST_TOKEN
from engine.fleet.deployment import Deployment
from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.jobs import JobSpec
from engine.fleet.routing import route_qbo
from engine.fleet.runner import JobFailed, Runner
from engine.runtime.history import list_errors
from engine.serve import intake
from engine.serve.events import QboEvent
from engine.store import Store
from tests.engine.fleet.conftest import KeptOpen


def _runner(store: Store, deployment: Deployment, bridge: KeptOpen, ticks: list[Any] | None = None) -> Runner:
    return Runner(store, deployment, {"transport": bridge, "token": TEST_TOKEN},
                  publish=ticks.append if ticks is not None else None)


def _numbers(sandbox: Sandbox, realm: str) -> list[str]:
    return sorted(r["DocNumber"] for r in sandbox.query(realm, "SELECT * FROM Invoice").get("Invoice", []))


def test_a_scheduled_job_syncs_the_profile_and_reports_progress(store: Store, deployment: Deployment,
                                                                 bridge: KeptOpen, sandbox: Sandbox) -> None:
    ticks: list[Any] = []
    runner = _runner(store, deployment, bridge, ticks)
    entry = deployment.get("freshbooks/fleet-001")
    assert entry is not None and entry.realm
    result = runner(JobSpec(entry.key, "scheduled", entry.realm))
    assert result.runs and result.counts.get("create")
    assert _numbers(sandbox, entry.realm) == ["P001-5000", "P001-5001"]
    assert ticks and ticks[-1]["profile"] == entry.key and ticks[-1]["done"] == ticks[-1]["total"]
    assert runner(JobSpec(entry.key, "scheduled", entry.realm)).note == "nothing to do"


def test_an_event_job_consumes_qbo_events_without_reading_qbo_when_nothing_flows_from_it(
        store: Store, deployment: Deployment, bridge: KeptOpen, sandbox: Sandbox) -> None:
    runner = _runner(store, deployment, bridge)
    entry = deployment.get("freshbooks/fleet-001")
    assert entry is not None and entry.realm
    runner(JobSpec(entry.key, "scheduled", entry.realm))
    invoice = sandbox.query(entry.realm, "SELECT * FROM Invoice").get("Invoice", [])[0]
    events = [QboEvent(entry.realm, "Invoice", invoice["Id"], "Update", f"t{n}", f"e{n}") for n in range(20)]
    route_qbo(store, deployment, EmbeddedQueue(store), events)
    before = sandbox.load_report()[entry.realm]["requests"]
    result = runner(JobSpec(entry.key, "event", entry.realm))
    assert result.counts == {"events": 20, "records": 0}  # the FreshBooks pack only writes to QBO
    assert intake.unprocessed(store, entry.key) == []
    assert sandbox.load_report()[entry.realm]["requests"] == before


def test_a_broken_profile_or_an_unknown_error_fails_the_job_with_the_reason(
        tmp_path: Path, store: Store, deployment: Deployment, bridge: KeptOpen) -> None:
    runner = _runner(store, deployment, bridge)
    with pytest.raises(JobFailed, match="no error #77"):
        runner(JobSpec("freshbooks/fleet-000", "resync", None, "77"))
    with pytest.raises(JobFailed, match="not part of this deployment"):
        runner(JobSpec("freshbooks/nobody", "scheduled"))
    broken = tmp_path / "deployment" / "profiles" / "fleet-000.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("create_items", "create_itemz"), encoding="utf-8")
    deployment.scan()
    bad = next(e for e in deployment.entries().values() if e.error)
    with pytest.raises(JobFailed, match="does not compile"):
        runner(JobSpec(bad.key, "scheduled"))


def test_a_resync_job_replans_the_one_record_of_an_error(store: Store, deployment: Deployment, bridge: KeptOpen,
                                                         sandbox: Sandbox, tmp_path: Path) -> None:
    entry = deployment.get("freshbooks/fleet-002")
    assert entry is not None and entry.realm
    data = tmp_path / "deployment" / "_data" / "fleet-002" / "invoices.json"
    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace('"VAT 20"', '"VAT 99"', 1), encoding="utf-8")  # a table gap: one record fails
    runner = _runner(store, deployment, bridge)
    runner(JobSpec(entry.key, "scheduled", entry.realm))
    (error,) = [e for e in list_errors(store, entry.key) if e.status == "open"]
    data.write_text(text, encoding="utf-8")  # fixed in the product
    result = runner(JobSpec(entry.key, "resync", entry.realm, str(error.id)))
    assert result.runs
    assert all(e.status != "open" for e in list_errors(store, entry.key))


def test_a_launched_first_sync_cannot_be_cancelled_by_the_switch_or_a_suspension(
        store: Store, deployment: Deployment, bridge: KeptOpen, sandbox: Sandbox, tmp_path: Path) -> None:
    """Once launched, the first sync runs to its end (the seed: "une fois la synchronisation lancée, vous ne pouvez
    plus l'annuler"): switching the integration off or suspending it after the launch does not stop it, while a
    scheduled sync of a switched-off profile does nothing."""
    from engine.runtime import suspension

    entry = deployment.get("freshbooks/fleet-002")
    assert entry is not None and entry.realm
    path = tmp_path / "deployment" / "profiles" / "fleet-002.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "enabled: false\n", encoding="utf-8")
    deployment.scan()
    suspension.suspend(store, entry.key, "2999-01-01")
    runner = _runner(store, deployment, bridge)
    entry = deployment.get("freshbooks/fleet-002")
    assert entry is not None and not entry.enabled
    assert "switched off" in (runner(JobSpec(entry.key, "scheduled", entry.realm)).note or "")
    assert _numbers(sandbox, entry.realm) == []
    result = runner(JobSpec(entry.key, "first", entry.realm))
    assert result.counts.get("create") and _numbers(sandbox, entry.realm) == ["P002-5000", "P002-5001"]
