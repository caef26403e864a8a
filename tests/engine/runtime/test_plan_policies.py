"""Planner policies: duplicate detection (`unique`), manual one-record syncs passing the filter, and a
profile switched off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo_session import open_qbo
from connectors.sandbox.testing import TEST_TOKEN
from connectors.sources import sources_for
from engine.pipeline import Loaded, run_pipeline
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanOptions, make_plan
from engine.runtime.render import render_text
from engine.store import Store
from tests.engine.runtime.conftest import REALM

PACK = Path(__file__).resolve().parents[2] / "cases" / "packs" / "bills_out"


def _plan(app: Any, store: Store, loaded: Loaded, **options: Any) -> Plan:
    bridge = AsgiBridge(app)
    target = open_qbo(loaded.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
    try:
        return make_plan(loaded, target, sources_for(loaded.resolved.connections), StoreLedger(store, "p"),
                         PlanOptions(today="2026-01-01", **options))
    finally:
        target.client.close()
        bridge.close()


def test_unique_report_flags_the_later_duplicate_and_exposes_duplicate_of(app: Any, store: Store) -> None:
    plan = _plan(app, store, run_pipeline(PACK))
    by_key = {c.key: c for c in plan.changes}
    assert by_key["1"].action == "create" and by_key["1"].payload["PrivateNote"] == "ok"
    assert by_key["2"].action == "create" and by_key["2"].reason == "possible duplicate of bills 1"
    assert by_key["2"].payload["PrivateNote"] == "possible duplicate of 1"
    assert "possible duplicate of bills 1" in render_text(plan)


def test_unique_skip_and_error_policies(app: Any, store: Store, tmp_path: Path) -> None:
    for action, expected in (("skip", "skip"), ("error", "error")):
        pack = tmp_path / action
        pack.mkdir()
        text = (PACK / "pack.yaml").read_text(encoding="utf-8").replace("action: report", f"action: {action}")
        (pack / "pack.yaml").write_text(text.replace("path: bills.json", f"path: {PACK / 'bills.json'}"),
                                        encoding="utf-8")
        plan = _plan(app, store, run_pipeline(pack))
        (second,) = [c for c in plan.changes if c.key == "2"]
        assert second.action == expected and "duplicate of bills 1" in (second.reason or "")


def test_manual_sync_of_one_record_passes_the_status_filter(app: Any, store: Store) -> None:
    loaded = run_pipeline(PACK)
    automatic = _plan(app, store, loaded)
    (draft,) = [c for c in automatic.changes if c.key == "3"]
    assert draft.action == "skip" and draft.reason == "status draft is sent only by a manual sync"
    manual = _plan(app, store, loaded, record="3", manual=True)
    assert [(c.key, c.action) for c in manual.changes] == [("3", "create")]


def test_a_profile_switched_off_plans_nothing(app: Any, store: Store) -> None:
    plan = _plan(app, store, run_pipeline(PACK / "customers" / "off.yaml"))
    assert not plan.enabled and plan.changes == () and not plan.has_changes
    assert "switched off for this profile" in render_text(plan)
