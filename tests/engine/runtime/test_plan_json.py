"""The plan written a change at a time is the same JSON document as ``plan_to_json``'s and reads back."""

from __future__ import annotations

import io
import json
from pathlib import Path

from jsonschema import Draft202012Validator

from connectors.qbo_target import QboTarget
from connectors.sources import sources_for
from engine.pipeline import Loaded
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanOptions, make_plan
from engine.runtime.plan_json import write_plan_json
from engine.runtime.render import plan_from_json, plan_to_json
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]


def _written(plan: Plan) -> str:
    out = io.StringIO()
    write_plan_json(plan, out)
    return out.getvalue()


def test_streamed_plan_json_is_the_same_document_and_reads_back(demo: Loaded, target: QboTarget,
                                                                store: Store) -> None:
    plan = make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key),
                     PlanOptions(today="2024-06-01"))
    assert len(plan.changes) > 5
    text = _written(plan)
    assert json.loads(text) == json.loads(plan_to_json(plan))
    assert len(text.splitlines()) < len(plan_to_json(plan).splitlines())  # one line per change
    schema = json.loads((ROOT / "schemas/plan.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator(schema).validate(json.loads(text))
    assert plan_from_json(text) == plan
    apply_plan(plan, target, store)
    empty = make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key),
                      PlanOptions(today="2024-06-01"))
    assert json.loads(_written(empty)) == json.loads(plan_to_json(empty))
