"""Apply stores a batch's outbox rows, answers, ledger entries and error closures together: a handful of
statements per batch of 30 writes, the same per document whatever the run's size."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.qbo_target import QboTarget
from connectors.sandbox import Sandbox
from engine.pipeline import Loaded
from engine.runtime.apply import BATCH_SIZE, apply_plan
from engine.runtime.canonical import payload_hash, request_id
from engine.runtime.plan import Change, Plan
from engine.store import Store
from engine.store.tables import errors, ledger, outbox
from tests.engine.runtime.conftest import REALM


def _plan(sandbox: Sandbox, key: str, start: int, count: int) -> Plan:
    """``count`` invoice creates for an existing customer and item (records start .. start+count-1)."""
    customer = sandbox.query(REALM, "SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]["Id"]
    item = sandbox.query(REALM, "SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")["Item"][0]["Id"]
    codes = sandbox.query(REALM, "SELECT * FROM TaxCode")["TaxCode"]
    code = next(c["Id"] for c in codes if c.get("SalesTaxRateList", {}).get("TaxRateDetail"))
    changes = []
    for n in range(start, start + count):
        payload = {"DocNumber": f"T{n:05d}", "TxnDate": "2025-03-03", "CustomerRef": {"value": customer},
                   "GlobalTaxCalculation": "TaxExcluded", "Line": [{"DetailType": "SalesItemLineDetail", "Amount": "10",
                             "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": "1", "UnitPrice": "10",
                                                     "TaxCodeRef": {"value": code}}}]}
        digest = payload_hash({"payload": payload, "entity": "Invoice"})
        changes.append(Change("create", "invoices", "Invoice", str(n), label=payload["DocNumber"], payload=payload,
                              payload_hash=digest, request_id=request_id(key, "invoices", str(n), "create", digest),
                              connection="qbo", owned_fields=tuple(payload)))
    return Plan(profile="demo", pack="freshbooks", pack_version="1", created_at="", fingerprint="",
                changes=tuple(changes), unchanged={}, first_sync=True)


def _apply_counting(store: Store, plan: Plan, target: QboTarget) -> int:
    counted = [0]

    def count(*_args: Any) -> None:
        counted[0] += 1

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        report = apply_plan(plan, target, store)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert report.ok, report.failures
    assert report.counts["create"] == len(plan.changes)
    return counted[0]


def test_statements_per_document_are_few_and_do_not_grow_with_the_run(demo: Loaded, target: QboTarget,
                                                                      store: Store, sandbox: Sandbox) -> None:
    key = demo.resolved.key
    small = _apply_counting(store, _plan(sandbox, key, 0, 2 * BATCH_SIZE), target)
    big = _apply_counting(store, _plan(sandbox, key, 2 * BATCH_SIZE, 8 * BATCH_SIZE), target)
    # one transaction per batch for the outbox, one for the answers: a few statements per batch, none per write
    assert small / (2 * BATCH_SIZE) < 0.5 and big / (8 * BATCH_SIZE) < 0.5
    assert big / (8 * BATCH_SIZE) <= small / (2 * BATCH_SIZE)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar() == 10 * BATCH_SIZE
        done = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "done")
        assert conn.execute(done).scalar() == 10 * BATCH_SIZE
        assert conn.execute(sa.select(sa.func.count()).select_from(errors)).scalar() == 0
    numbers = {i["DocNumber"] for i in sandbox.query(REALM, "SELECT * FROM Invoice MAXRESULTS 1000")["Invoice"]}
    assert {f"T{n:05d}" for n in range(10 * BATCH_SIZE)} <= numbers
