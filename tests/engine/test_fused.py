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
