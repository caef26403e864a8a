"""Records with open errors are retried by every plan: an error closes once its cause is fixed, even when
the record itself did not change, and a file that could not be attached is sent again."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.fetch import FileFetcher
from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo_session import open_qbo
from connectors.sandbox import Sandbox
from connectors.sandbox.testing import TEST_TOKEN
from connectors.sources import sources_for
from engine.pipeline import run_pipeline
from engine.runtime.apply import ApplyReport, apply_plan
from engine.runtime.history import list_errors
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanOptions, make_plan
from engine.runtime.render import render_text
from engine.store import Store
from tests.engine.runtime.conftest import REALM

PACK = Path(__file__).resolve().parents[2] / "cases" / "packs" / "receipts"

Run = Callable[[], tuple[Plan, ApplyReport]]


def _runner(app: Any, store: Store, pack: Path) -> tuple[Run, Callable[[], None]]:
    bridge = AsgiBridge(app)
    targets: list[Any] = []

    def run() -> tuple[Plan, ApplyReport]:
        loaded = run_pipeline(pack)  # compiled again each run: the test edits the pack between runs
        target = open_qbo(loaded.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
        targets.append(target)
        plan = make_plan(loaded, target, sources_for(loaded.resolved.connections), StoreLedger(store, loaded.resolved.key),
                         PlanOptions(today="2026-01-01"))
        return plan, apply_plan(plan, target, store, attacher=target, fetcher=FileFetcher(pack))

    def close() -> None:
        for target in targets:
            target.client.close()
        bridge.close()
    return run, close


def _open(store: Store) -> list[str]:
    return [f"{e.flow} {e.source_key}: {e.message}" for e in list_errors(store) if e.status == "open"]


def test_a_failed_attachment_is_sent_again_by_the_next_run(app: Any, sandbox: Sandbox, store: Store,
                                                            tmp_path: Path) -> None:
    pack = tmp_path / "receipts"
    shutil.copytree(PACK, pack)
    kept = (pack / "receipts" / "r-2.png").read_bytes()
    (pack / "receipts" / "r-2.png").unlink()
    run, close = _runner(app, store, pack)
    try:
        _, first = run()
        assert first.counts.get("attached") == 1 and not first.ok
        assert [m for m in _open(store) if "r-2.png" in m], _open(store)

        (pack / "receipts" / "r-2.png").write_bytes(kept)  # the file is back; the expense did not change
        plan, second = run()
        assert [(c.action, c.key) for c in plan.changes] == [("attach", "2")]
        assert "^ attach" in render_text(plan)
        assert second.ok and second.counts.get("attached") == 1
        assert _open(store) == []
        names = sorted(a["FileName"] for a in sandbox.query(REALM, "SELECT * FROM Attachable").get("Attachable", []))
        assert names == ["facture.png", "ticket-1.pdf"]

        third, _ = run()
        assert not third.has_changes and third.changes == ()
    finally:
        close()


def test_an_error_closes_when_its_cause_is_fixed_though_the_record_did_not_change(
        app: Any, store: Store, tmp_path: Path) -> None:
    pack = tmp_path / "receipts"
    shutil.copytree(PACK, pack)
    rules = pack / "pack.yaml"
    good = rules.read_text(encoding="utf-8")
    run, close = _runner(app, store, pack)
    try:
        _, first = run()
        assert first.ok, first.failures

        rules.write_text(good.replace("value: \"'512000'\"", "value: \"'999999'\""), encoding="utf-8")
        broken, report = run()
        assert {c.action for c in broken.changes} == {"error"} and not report.ok
        assert len(_open(store)) == 2

        rules.write_text(good, encoding="utf-8")  # fixed: each record maps to what QBO holds already
        fixed, closing = run()
        assert [(c.action, c.key) for c in fixed.changes] == [("resolve", "1"), ("resolve", "2")]
        assert fixed.has_changes and "2 errors to close" in render_text(fixed)
        assert closing.ok and closing.counts.get("resolved") == 2
        assert _open(store) == []
        assert {e.status for e in list_errors(store)} == {"resolved"}  # kept in the history, greyed

        after, _ = run()
        assert after.changes == ()
    finally:
        close()
