"""A flow's vars and fields generated as one function (``CompiledFlow.body``, engine.fused) map records
exactly as the closure tree does (``body=None``): same payloads, creates, skips and matches, and the same
located errors — the failing expression named, not the flow."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bench.mapping import PROFILE, generate, reference_data
from engine.compile import CompiledFlow
from engine.context import StaticReferenceData
from engine.evaluate import Evaluation, evaluate
from engine.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
DEMOS = sorted((ROOT / "rules").glob("*/customers/demo.yaml"))


def _outcome(ev: Evaluation) -> tuple[Any, ...]:
    error = ev.error
    where = None if error is None else (error.code, error.message, str(error.loc), tuple(error.path))
    return ev.action, ev.key, ev.date, ev.payload, ev.reason, ev.creates, ev.match, where


def _both(flow: CompiledFlow, record: dict[str, Any], settings: Any, **kw: Any) -> tuple[Evaluation, Evaluation]:
    closures = dataclasses.replace(flow, body=None)
    return evaluate(flow, record, settings, **kw), evaluate(closures, record, settings, **kw)


@pytest.fixture(scope="module")
def invoices() -> tuple[CompiledFlow, Any]:
    compiled = run_pipeline(PROFILE).compiled
    return compiled.flows["invoices"], compiled.settings


@pytest.mark.parametrize("profile", DEMOS, ids=lambda p: p.parent.parent.name)
def test_every_shipped_flow_is_generated(profile: Path) -> None:
    flows = run_pipeline(profile).compiled.flows
    assert flows
    assert [name for name, flow in flows.items() if flow.body is None] == []


def test_generated_flow_maps_like_the_closures(invoices: tuple[CompiledFlow, Any]) -> None:
    flow, settings = invoices
    known = reference_data()
    no_customers = StaticReferenceData({entity: known.records(entity) for entity in ("TaxCode", "Account")})
    actions = set()
    for record in generate(150, seed=3):
        for refs in (known, no_customers):  # found references, then customers and items to create
            fused, closures = _both(flow, record, settings, refs=refs)
            assert _outcome(fused) == _outcome(closures)
            actions.add(fused.action)
            if not refs.records("Customer") and fused.action == "write":
                assert fused.creates  # the customer and items are created, in the same order both ways
    assert actions == {"write", "skip"}  # drafts are skipped


BROKEN = [
    ("qty", lambda r: r["lines"][0].__setitem__("qty", "abc"), "'abc' is not a number"),
    ("unit cost", lambda r: r["lines"][3]["unit_cost"].__setitem__("amount", None), "expected a number"),
    ("lines", lambda r: r.__setitem__("lines", "not a list"), "cannot read"),
    ("amount", lambda r: r["amount"].__setitem__("amount", "12,50"), "'12,50' is not a number"),
    ("tax", lambda r: r["lines"][2].__setitem__("taxName1", ["VAT"]), "cannot be looked up"),
]


@pytest.mark.parametrize(("what", "breaks", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_generated_flow_places_errors_like_the_closures(invoices: tuple[CompiledFlow, Any], what: str,
                                                        breaks: Any, message: str) -> None:
    flow, settings = invoices
    record = next(r for r in generate(20, seed=5) if r["v3_status"] != "draft")
    broken = copy.deepcopy(record)
    breaks(broken)
    fused, closures = _both(flow, broken, settings, refs=reference_data())
    assert fused.action == "error", fused
    assert _outcome(fused) == _outcome(closures)
    assert fused.error is not None and message in fused.error.message
    # located on the pack's line of the failing expression, not on the flow
    assert fused.error.loc is not None and fused.error.loc != flow.flow.loc
    assert "invoices.yaml" in str(fused.error.loc)


def test_trace_still_maps_field_by_field(invoices: tuple[CompiledFlow, Any]) -> None:
    flow, settings = invoices
    record = next(r for r in generate(20, seed=5) if r["v3_status"] != "draft")
    traced = evaluate(flow, record, settings, refs=reference_data(), trace=True)
    plain = evaluate(flow, record, settings, refs=reference_data())
    assert traced.payload == plain.payload
    assert {entry.target for entry in traced.trace} >= {"TxnDate", "CustomerRef", "Line[0].Amount"}


class _Revised(StaticReferenceData):
    """Reference data whose answers change, saying so (or not) through ``revision``; counts its lookups."""

    def __init__(self, records: Any, revision: int | None) -> None:
        super().__init__(records)
        self.revision = revision  # type: ignore[assignment]
        self.asked = 0

    def find(self, entity: str, by: str, value: Any) -> Any:
        self.asked += 1
        return super().find(entity, by, value)

    def rename_customers(self, suffix: str) -> None:
        for row in self._records["Customer"]:
            row["Id"] = f"{row['Id']}{suffix}"
        if self.revision is not None:
            self.revision += 1


def _customer_ids(flow: CompiledFlow, settings: Any, records: list[dict[str, Any]], refs: Any) -> set[str]:
    out = set()
    for record in records:
        ev = evaluate(flow, record, settings, refs=refs)
        if ev.action == "write":
            out.add(ev.payload["CustomerRef"]["value"])
            ev.payload["CustomerRef"]["value"] = "changed by a caller"  # must not leak into the next payload
    return out


@pytest.mark.parametrize("body", [True, False], ids=["generated", "closures"])
def test_refs_remember_answers_only_while_the_reference_data_keeps_its_revision(
        invoices: tuple[CompiledFlow, Any], body: bool) -> None:
    flow, settings = invoices
    flow = flow if body else dataclasses.replace(flow, body=None)
    records = generate(60, seed=5)
    known = reference_data()
    revised = _Revised({e: copy.deepcopy(known.records(e)) for e in ("Customer", "Item", "TaxCode", "Account")}, 0)
    first = _customer_ids(flow, settings, records, revised)
    asked = revised.asked
    assert first and "changed by a caller" not in first
    assert _customer_ids(flow, settings, records, revised) == first
    assert revised.asked == asked  # the same answers, all remembered
    revised.rename_customers("-2")
    assert _customer_ids(flow, settings, records, revised) == {f"{i}-2" for i in first}

    unrevised = _Revised({e: copy.deepcopy(known.records(e)) for e in ("Customer", "Item", "TaxCode", "Account")},
                         None)
    before = _customer_ids(flow, settings, records, unrevised)
    unrevised.rename_customers("-3")  # no revision to say so: nothing was remembered
    assert _customer_ids(flow, settings, records, unrevised) == {f"{i}-3" for i in before}
