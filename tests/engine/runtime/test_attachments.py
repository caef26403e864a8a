"""Attachments: each file is uploaded and linked to the record written, once, even across reruns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.fetch import FileFetcher
from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo_session import open_qbo
from connectors.sandbox import Sandbox
from connectors.sandbox.testing import TEST_TOKEN
from connectors.sources import sources_for
from engine.pipeline import run_pipeline
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.render import render_text
from engine.store import Store
from tests.engine.runtime.conftest import REALM

PACK = Path(__file__).resolve().parents[2] / "cases" / "packs" / "receipts"


def test_receipts_are_attached_to_the_written_expense_once(app: Any, sandbox: Sandbox, store: Store) -> None:
    loaded = run_pipeline(PACK)
    bridge = AsgiBridge(app)
    target = open_qbo(loaded.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
    try:
        def run() -> Any:
            ledger = StoreLedger(store, loaded.resolved.key)
            sources = sources_for(loaded.resolved.connections)
            plan = make_plan(loaded, target, sources, ledger, PlanOptions(today="2026-01-01"))
            return plan, apply_plan(plan, target, store, attacher=target, fetcher=FileFetcher(PACK))

        plan, report = run()
        assert "+ attach ticket-1.pdf" in render_text(plan)
        assert report.ok, report.failures
        assert report.counts["attached"] == 2
        attachables = sandbox.query(REALM, "SELECT * FROM Attachable").get("Attachable", [])
        purchases = {p["Id"] for p in sandbox.query(REALM, "SELECT * FROM Purchase").get("Purchase", [])}
        assert sorted(a["FileName"] for a in attachables) == ["facture.png", "ticket-1.pdf"]
        linked = {ref["EntityRef"]["value"] for a in attachables for ref in a["AttachableRef"]}
        assert linked == purchases
        again, second = run()
        assert not again.has_changes and second.counts.get("attached", 0) == 0
        assert len(sandbox.query(REALM, "SELECT * FROM Attachable").get("Attachable", [])) == 2
    finally:
        target.client.close()
        bridge.close()
