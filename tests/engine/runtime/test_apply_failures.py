"""An unexpected failure inside apply (not a fault QBO answered) is that record's error: the rest of the
apply goes on, the failure is in the error history, and a later run writes the record once fixed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from connectors.qbo_target import QboTarget
from connectors.sandbox import Sandbox
from connectors.sources import sources_for
from engine.pipeline import Loaded
from engine.runtime import apply as apply_module
from engine.runtime.apply import apply_plan
from engine.runtime.history import list_errors
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.ports import TargetWrite, WriteOutcome
from engine.store import Store
from tests.engine.runtime.conftest import REALM

OPTIONS = PlanOptions(today="2024-06-01")


def _plan(demo: Loaded, target: QboTarget, store: Store) -> Any:
    return make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key), OPTIONS)


def _numbers(sandbox: Sandbox, entity: str) -> list[str]:
    found = sandbox.query(REALM, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, [])
    return sorted(str(d.get("DocNumber")) for d in found)


class BrokenOn:
    """The QBO target, except that sending one document raises an exception nothing classified (a bug in a
    connector, a value the wire encoding cannot take), alone or inside a batch."""

    def __init__(self, inner: QboTarget, doc_number: str) -> None:
        self.inner, self.doc_number = inner, doc_number

    def _check(self, write: TargetWrite) -> None:
        if write.payload.get("DocNumber") == self.doc_number:
            raise TypeError(f"cannot encode {self.doc_number}")

    def write(self, write: TargetWrite) -> WriteOutcome:
        self._check(write)
        return self.inner.write(write)

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        for write in writes:
            self._check(write)
        return self.inner.write_many(writes)

    def remember(self, entity: str, record: Mapping[str, Any]) -> None:
        self.inner.remember(entity, record)


def test_a_write_raising_unexpectedly_fails_its_record_alone(demo: Loaded, target: QboTarget, store: Store,
                                                             sandbox: Sandbox) -> None:
    plan = _plan(demo, target, store)
    assert {c.label for c in plan.changes if c.action == "create" and c.entity == "Invoice"} >= {"FB1201", "FB1202"}
    report = apply_plan(plan, BrokenOn(target, "FB1201"), store)
    assert not report.ok
    # the invoice fails, and the payment linked to it (it needs the invoice's id); nothing else does
    assert [(flow, key) for flow, key, _ in report.failures] == [("invoices", "1201"), ("payments", "501")]
    assert "unexpected TypeError: cannot encode FB1201" in report.failures[0][2]
    assert "invoices 1201 was not written" in report.failures[1][2]
    assert _numbers(sandbox, "Invoice") == ["FB1202"]  # the same batch's other invoice went through
    assert len([n for n in _numbers(sandbox, "Bill") if n in ("9001", "9002", "9003")]) == 3  # later flows too
    errors = {(e.flow, e.source_key): e for e in list_errors(store, demo.resolved.key) if e.status == "open"}
    assert set(errors) == {("invoices", "1201"), ("payments", "501")}
    error = errors[("invoices", "1201")]
    assert error.fault_class == "data" and error.hint and "unexpected" in error.hint
    # fixed (here: the connector works again), the next run writes the record and closes its error
    again = apply_plan(_plan(demo, target, store), target, store)
    assert again.ok, again.failures
    assert _numbers(sandbox, "Invoice") == ["FB1201", "FB1202"]
    assert [e.status for e in list_errors(store, demo.resolved.key)] == ["resolved", "resolved"]


def test_a_payload_step_raising_unexpectedly_fails_its_record_alone(demo: Loaded, target: QboTarget, store: Store,
                                                                    sandbox: Sandbox,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    original = apply_module.with_numbers

    def breaks_on_one(payload: Any, numbers: Any) -> Any:
        if isinstance(payload, Mapping) and payload.get("DocNumber") == "FB1202":
            raise ValueError("no number here")
        return original(payload, numbers)

    monkeypatch.setattr(apply_module, "with_numbers", breaks_on_one)
    report = apply_plan(_plan(demo, target, store), target, store)
    assert [(flow, key) for flow, key, _ in report.failures] == [("invoices", "1202"), ("payments", "502")]
    assert "unexpected ValueError: no number here" in report.failures[0][2]
    assert report.counts["failed"] == 2 and report.counts["create"] >= 4
    assert _numbers(sandbox, "Invoice") == ["FB1201"]
    assert len([n for n in _numbers(sandbox, "Bill") if n in ("9001", "9002", "9003")]) == 3
    assert {(e.source_key, e.status) for e in list_errors(store, demo.resolved.key)} == {("1202", "open"),
                                                                                      ("502", "open")}


def test_an_interrupt_still_stops_the_apply(demo: Loaded, target: QboTarget, store: Store) -> None:
    class Interrupted(BrokenOn):
        def _check(self, write: TargetWrite) -> None:
            if write.payload.get("DocNumber") == self.doc_number:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_plan(_plan(demo, target, store), Interrupted(target, "FB1201"), store)
    assert list_errors(store, demo.resolved.key) == []
