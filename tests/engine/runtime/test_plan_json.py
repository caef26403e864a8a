"""The plan written a change at a time is the same JSON document as ``plan_to_json``'s and reads back."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from connectors.qbo_target import QboTarget
from connectors.sources import sources_for
from engine.errors import PasserelleError
from engine.pipeline import Loaded
from engine.runtime import spill
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanOptions, make_plan
from engine.runtime.plan_json import read_plan_file, write_plan_json
from engine.runtime.render import plan_from_json, plan_to_json
from engine.runtime.spill import Spilled
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


def test_a_saved_plan_file_is_read_a_change_at_a_time(demo: Loaded, target: QboTarget, store: Store,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key),
                     PlanOptions(today="2024-06-01"))
    many = dataclasses.replace(plan, changes=tuple(plan.changes) * 3)
    path = tmp_path / "plan.json"
    path.write_text(_written(many), encoding="utf-8")
    assert read_plan_file(path) == many
    monkeypatch.setattr(spill, "SPILL_AFTER", 4)  # past the first changes they wait in a temporary file
    read = read_plan_file(path)
    assert isinstance(read.changes, Spilled) and list(read.changes) == list(many.changes) and read == many
    # laid out otherwise (reformatted by hand): read whole, the same plan
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=4), encoding="utf-8")
    assert read_plan_file(path) == many
    empty = dataclasses.replace(plan, changes=())
    path.write_text(_written(empty), encoding="utf-8")
    assert read_plan_file(path) == empty


def test_a_broken_saved_plan_file_names_the_line(demo: Loaded, target: QboTarget, store: Store,
                                                 tmp_path: Path) -> None:
    plan = make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key),
                     PlanOptions(today="2024-06-01"))
    lines = _written(plan).splitlines(keepends=True)
    path = tmp_path / "plan.json"
    path.write_text("".join([*lines[:3], "    {not json},\n", *lines[4:]]), encoding="utf-8")
    with pytest.raises(PasserelleError) as broken:
        read_plan_file(path)
    assert "E801" in str(broken.value) and "line 4" in str(broken.value)
    path.write_text("".join([*lines[:3], '    {"key": "x"},\n', *lines[4:]]), encoding="utf-8")
    with pytest.raises(PasserelleError) as wrong:
        read_plan_file(path)
    assert "not a valid plan at line 4" in str(wrong.value)
    path.write_text(_written(plan).replace('"version": 1', '"version": 99'), encoding="utf-8")
    with pytest.raises(PasserelleError) as version:
        read_plan_file(path)
    assert "unsupported plan version 99" in str(version.value)


def test_a_saved_plan_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe{\x00")
    with pytest.raises(PasserelleError) as binary:
        read_plan_file(path)
    assert "E801" in str(binary.value) and "not UTF-8 text" in str(binary.value)
