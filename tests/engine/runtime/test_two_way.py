"""Flows that read QBO and write to a product: created once, updated when QBO changes, through the
product connection's writer (here a recording stand-in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo_session import open_qbo
from connectors.qbo_target import QboSource
from connectors.sandbox import Sandbox
from connectors.sandbox.testing import TEST_TOKEN
from engine.pipeline import run_pipeline
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.ports import TargetWrite, WriteOutcome
from engine.runtime.render import render_text
from engine.store import Store
from tests.engine.runtime.conftest import REALM

PACK = Path(__file__).resolve().parents[2] / "cases" / "packs" / "payables"


class RecordingProduct:
    """A product API stand-in: keeps what was written, answers with the stored record."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str | None, dict[str, Any]]] = []
        self.records: dict[str, dict[str, Any]] = {}

    def write(self, write: TargetWrite) -> WriteOutcome:
        ident = write.target_id or f"p{len(self.records) + 1}"
        self.writes.append((write.operation, write.target_id, dict(write.payload)))
        self.records[ident] = {**self.records.get(ident, {}), **write.payload, "Id": ident}
        return WriteOutcome(write, True, record=self.records[ident])

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        return [self.write(w) for w in writes]


def _bill(sandbox: Sandbox, number: str, vendor: str, amount: int) -> Mapping[str, Any]:
    return sandbox.write(REALM, "Bill", {"VendorRef": {"value": vendor}, "DocNumber": number,
                                         "GlobalTaxCalculation": "TaxExcluded", "Line": [
        {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount,
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"}, "TaxCodeRef": {"value": "35"}}}]})


def test_L1_L6_qbo_bills_reach_the_product_and_follow_their_balance(app: Any, sandbox: Sandbox, store: Store) -> None:
    loaded = run_pipeline(PACK)
    bridge = AsgiBridge(app)
    target = open_qbo(loaded.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
    product = RecordingProduct()
    try:
        def plan() -> Any:
            return make_plan(loaded, target, {"qbo": QboSource(target)}, StoreLedger(store, loaded.resolved.key),
                             PlanOptions(today="2026-01-01"))

        bill = _bill(sandbox, "B-77", "56", 200)
        first = plan()
        (create,) = [c for c in first.changes if c.action == "create"]
        assert create.connection == "product" and create.entity == "payables"
        assert create.payload["status"] == "to_pay" and create.payload["imported_from"] == "quickbooks"
        report = apply_plan(first, target, store, writers={"product": product})
        assert report.ok, report.failures
        assert product.writes[0][0] == "create"
        # The bill is paid in QBO: the payable's status follows, as an update of the same product record.
        sandbox.write(REALM, "BillPayment", {"VendorRef": {"value": "56"}, "PayType": "Check", "TotalAmt": 200,
                                             "CheckPayment": {"BankAccountRef": {"value": "1"}},
                                             "Line": [{"Amount": 200, "LinkedTxn": [{"TxnId": bill["Id"],
                                                                                     "TxnType": "Bill"}]}]})
        second = plan()
        (update,) = [c for c in second.changes if c.action == "update"]
        assert update.target_id == "p1" and [(d.field, d.before, d.after) for d in update.diffs] == [
            ("status", "to_pay", "paid")]
        assert "~ update payables p1 (bills_in " in render_text(second)
        apply_plan(second, target, store, writers={"product": product})
        assert product.writes[-1][:2] == ("update", "p1") and product.records["p1"]["status"] == "paid"
        assert not plan().has_changes
    finally:
        target.client.close()
        bridge.close()


def test_writes_to_a_connection_that_cannot_be_written_fail_clearly() -> None:
    from connectors.product_writer import ReadOnly, writers_for

    loaded = run_pipeline(PACK)
    writers = writers_for({}, loaded.resolved.connections)
    assert set(writers) == {"product"} and isinstance(writers["product"], ReadOnly)
    outcome = writers["product"].write(TargetWrite(entity="payables", operation="create", payload={}, request_id="r",
                                                   flow="bills_in", source_key="1"))
    assert not outcome.ok and outcome.code == "E906" and "cannot be written to" in (outcome.message or "")
