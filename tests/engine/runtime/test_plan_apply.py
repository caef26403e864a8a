"""Plan and apply on the in-process sandbox: previews write nothing, applies are idempotent and
crash-safe, updates show field diffs, hand edits are conflicts."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from connectors.qbo_target import QboTarget
from connectors.sandbox import Sandbox
from connectors.sources import sources_for
from engine.pipeline import Loaded
from engine.runtime.apply import apply_plan, check_fresh
from engine.runtime.history import list_errors
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.ports import TargetWrite, WriteOutcome
from engine.runtime.render import plan_from_json, plan_to_json, render_text
from engine.store import Store
from tests.engine.runtime.conftest import REALM

OPTIONS = PlanOptions(today="2024-06-01")


def _docs(sandbox: Sandbox, entity: str) -> list[dict[str, Any]]:
    return list(sandbox.query(REALM, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, []))


def _plan(demo: Loaded, target: QboTarget, store: Store, sources: Mapping[str, Any] | None = None) -> Any:
    ledger = StoreLedger(store, demo.resolved.key)
    return make_plan(demo, target, sources or sources_for(demo.resolved.connections), ledger, OPTIONS)


def test_E1_G3_first_sync_preview_writes_nothing(demo: Loaded, target: QboTarget, store: Store,
                                                  sandbox: Sandbox) -> None:
    writes: list[Any] = []
    sandbox.subscribe(writes.extend)
    plan = _plan(demo, target, store)
    assert writes == []  # the QBO side saw reads only
    assert plan.first_sync
    text = render_text(plan)
    assert "First sync: 7 document(s) would be sent" in text
    assert "+ create Invoice FB1201 (invoices 1201)" in text
    assert "? skip Invoice 1203 (invoices 1203): status draft is not synced" in text
    assert "before the start date 2024-01-01" in text
    assert "Invoice: 2 to create, 2 skipped" in text


def test_apply_creates_everything_then_nothing_changes(demo: Loaded, target: QboTarget, store: Store,
                                                       sandbox: Sandbox) -> None:
    plan = _plan(demo, target, store)
    report = apply_plan(plan, target, store)
    assert report.ok, report.failures
    invoices = {i["DocNumber"]: i for i in _docs(sandbox, "Invoice")}
    assert {"FB1201", "FB1202"} <= set(invoices)
    assert invoices["FB1201"]["Balance"] == 0  # the linked payment of 372.00 settled it
    bills = [b for b in _docs(sandbox, "Bill") if b.get("DocNumber") in ("9001", "9002", "9003")]
    assert len(bills) == 3
    again = _plan(demo, target, store)
    assert not again.has_changes and not again.first_sync
    assert sum(again.unchanged.values()) == 7


def test_E2_rerun_after_a_crash_mid_apply_duplicates_nothing(demo: Loaded, target: QboTarget, store: Store,
                                                            sandbox: Sandbox) -> None:
    class CrashAfterSending:
        """Sends writes, then dies before the runtime can record the third answer (like kill -9)."""

        def __init__(self, inner: QboTarget) -> None:
            self.inner, self.sent = inner, 0

        def write(self, write: TargetWrite) -> WriteOutcome:
            outcome = self.inner.write(write)
            self.sent += 1
            if self.sent == 3:
                raise KeyboardInterrupt("killed")
            return outcome

        def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
            return [self.write(w) for w in writes]

        def remember(self, entity: str, record: Mapping[str, Any]) -> None:
            self.inner.remember(entity, record)

    with pytest.raises(KeyboardInterrupt):
        apply_plan(_plan(demo, target, store), CrashAfterSending(target), store)
    report = apply_plan(_plan(demo, target, store), target, store)
    assert report.ok, report.failures
    numbers = [i["DocNumber"] for i in _docs(sandbox, "Invoice")]
    assert numbers.count("FB1201") == 1 and numbers.count("FB1202") == 1
    customers = [c["DisplayName"] for c in _docs(sandbox, "Customer")]
    assert customers.count("Claire Moreau") == 1
    assert not _plan(demo, target, store).has_changes


class EditedSource:
    """The demo's file source with one record changed."""

    def __init__(self, inner: Any, key: str, change: Mapping[str, Any]) -> None:
        self.inner, self.key, self.change = inner, key, change

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        for record in self.inner.records(resource):
            if resource == "invoices" and str(record["invoiceid"]) == self.key:
                yield {**copy.deepcopy(dict(record)), **self.change}
            else:
                yield record


def test_update_shows_changed_fields_and_conflict_on_hand_edit(demo: Loaded, target: QboTarget, store: Store,
                                                              sandbox: Sandbox) -> None:
    apply_plan(_plan(demo, target, store), target, store)
    sources = sources_for(demo.resolved.connections)
    edited = {"product": EditedSource(sources["product"], "1202", {"due_date": "2024-05-31"})}
    plan = _plan(demo, target, store, edited)
    (change,) = [c for c in plan.changes if c.action == "update"]
    assert change.entity == "Invoice" and [d.field for d in change.diffs] == ["DueDate"]
    assert (change.diffs[0].before, change.diffs[0].after) == ("2024-04-09", "2024-05-31")
    assert "DueDate: \"2024-04-09\" -> \"2024-05-31\"" in render_text(plan)
    # Someone edits the same invoice's due date by hand in QBO: the plan reports a conflict instead.
    live = next(i for i in _docs(sandbox, "Invoice") if i["DocNumber"] == "FB1202")
    sandbox.write(REALM, "Invoice", {"Id": live["Id"], "SyncToken": live["SyncToken"], "sparse": True,
                                     "DueDate": "2024-06-15"})
    conflict = _plan(demo, target, store, edited)
    assert [c.action for c in conflict.changes if c.key == "1202"] == ["conflict"]
    assert "changed by hand since our last write (DueDate)" in render_text(conflict)


def test_saved_plan_round_trips_and_is_refused_when_stale(demo: Loaded, target: QboTarget, store: Store,
                                                         sandbox: Sandbox) -> None:
    apply_plan(_plan(demo, target, store), target, store)
    sources = sources_for(demo.resolved.connections)
    edited = {"product": EditedSource(sources["product"], "1202", {"due_date": "2024-05-31"})}
    saved = plan_from_json(plan_to_json(_plan(demo, target, store, edited)))
    live = next(i for i in _docs(sandbox, "Invoice") if i["DocNumber"] == "FB1202")
    sandbox.write(REALM, "Invoice", {"Id": live["Id"], "SyncToken": live["SyncToken"], "sparse": True,
                                     "PrivateNote": "edited"})
    with pytest.raises(Exception, match="the saved plan is stale"):
        check_fresh(saved, target, store)


def test_G10_failed_document_goes_to_error_history_and_later_success_resolves_it(
        demo: Loaded, target: QboTarget, store: Store, sandbox: Sandbox) -> None:
    sources = sources_for(demo.resolved.connections)
    too_long = {"product": EditedSource(sources["product"], "1201", {"invoice_number": "1201-" + "9" * 30})}
    report = apply_plan(_plan(demo, target, store, too_long), target, store)
    assert not report.ok
    (error,) = [e for e in list_errors(store, demo.resolved.key) if e.source_key == "1201"]
    assert error.status == "open" and error.fault_class == "data" and error.hint
    fixed = apply_plan(_plan(demo, target, store), target, store)
    assert fixed.ok, fixed.failures
    (error,) = [e for e in list_errors(store, demo.resolved.key) if e.source_key == "1201"]
    assert error.status == "resolved"


def test_plan_apply_and_error_history_on_postgresql(demo: Loaded, app: Any, pg_store: Store,
                                                    sandbox: Sandbox) -> None:
    from connectors.qbo.inprocess import AsgiBridge
    from connectors.qbo_session import open_qbo
    from connectors.sandbox.testing import TEST_TOKEN

    bridge = AsgiBridge(app)
    target = open_qbo(demo.resolved, pg_store, transport=bridge, token=TEST_TOKEN, realm=REALM)
    try:
        report = apply_plan(_plan(demo, target, pg_store), target, pg_store)
        assert report.ok, report.failures
        assert pg_store.dialect == "postgresql"
        again = _plan(demo, target, pg_store)
        assert not again.has_changes and sum(again.unchanged.values()) == 7
    finally:
        target.client.close()
        bridge.close()


def test_an_outbox_row_recorded_by_another_run_meanwhile_is_taken_over_not_a_crash(
        demo: Loaded, target: QboTarget, store: Store, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs (a sync and the webhook worker) record the same write at the same moment."""
    import sqlalchemy as sa

    from engine.runtime import apply as apply_module
    from engine.store.tables import outbox

    original = apply_module._Applier._record_sent
    raced: list[str] = []

    def racing(self: Any, writes: list[TargetWrite]) -> Any:
        write = writes[0]  # a batch's first write
        if not raced:  # the other run inserts the same requestid just before us
            raced.append(write.request_id)
            with store.engine.begin() as conn:
                conn.execute(sa.insert(outbox).values(profile=self.profile, request_id=write.request_id, flow=write.flow,
                                                      source_key=write.source_key, action=write.operation,
                                                      entity=write.entity, status="sent", created_at=sa.func.now(),
                                                      updated_at=sa.func.now()))
            with store.engine.begin() as conn:  # our insert now collides with it
                conn.execute(sa.insert(outbox).values(profile=self.profile, request_id=write.request_id, flow=write.flow,
                                                      source_key=write.source_key, action=write.operation,
                                                      entity=write.entity, status="sent", created_at=sa.func.now(),
                                                      updated_at=sa.func.now()))
        return original(self, writes)

    monkeypatch.setattr(apply_module._Applier, "_record_sent", racing)
    report = apply_plan(_plan(demo, target, store), target, store)
    assert raced and report.ok, report.failures
    assert sorted(i["DocNumber"] for i in _docs(sandbox, "Invoice")) == ["FB1201", "FB1202"]
