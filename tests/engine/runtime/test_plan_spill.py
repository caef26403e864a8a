"""A plan past its first changes is kept on disk and its payloads compact, and is the same plan: same text,
same JSON, same writes when applied (a first sync plans one change per source record)."""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import pytest

from connectors.qbo_target import QboTarget
from connectors.sandbox import Sandbox
from connectors.sources import sources_for
from engine.pipeline import Loaded
from engine.runtime import spill
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import (
    Change,
    CreateDiffs,
    FieldChange,
    PackedDiffs,
    PackedPayload,
    Plan,
    PlanOptions,
    make_plan,
    pack_diffs,
    pack_payload,
)
from engine.runtime.plan_json import write_plan_json
from engine.runtime.render import plan_from_json, plan_to_json, render_text
from engine.runtime.spill import Spilled, SpillingList
from engine.store import Store
from tests.engine.runtime.conftest import REALM

OPTIONS = PlanOptions(today="2024-06-01")


def _plan(demo: Loaded, target: QboTarget, store: Store) -> Plan:
    return make_plan(demo, target, sources_for(demo.resolved.connections), StoreLedger(store, demo.resolved.key),
                     OPTIONS)


def _json(plan: Plan) -> dict[str, Any]:
    out = io.StringIO()
    write_plan_json(plan, out)
    data: dict[str, Any] = json.loads(out.getvalue())
    data.pop("created_at")
    return data


def _docs(sandbox: Sandbox, entity: str) -> list[dict[str, Any]]:
    return list(sandbox.query(REALM, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, []))


def test_a_spilled_plan_renders_and_reads_back_as_the_plan_held_in_memory(
        demo: Loaded, target: QboTarget, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    held = _plan(demo, target, store)
    assert isinstance(held.changes, tuple)
    monkeypatch.setattr(spill, "SPILL_AFTER", 1)
    spilled = _plan(demo, target, store)
    assert isinstance(spilled.changes, Spilled) and len(spilled.changes) == len(held.changes) > 5
    assert render_text(spilled) == render_text(held)
    assert _json(spilled) == _json(held)
    assert {**json.loads(plan_to_json(spilled)), "created_at": ""} == {**json.loads(plan_to_json(held)), "created_at": ""}
    assert list(spilled.changes) == list(held.changes)
    create = next(c for c in spilled.changes if c.action == "create" and c.entity == "Invoice")
    assert isinstance(create.payload, PackedPayload) and isinstance(create.diffs, CreateDiffs)
    assert create.payload == create.payload.unpack() and create.payload["DocNumber"] == create.label
    assert [d.field for d in create.diffs] == list(create.payload.unpack())
    saved = io.StringIO()
    write_plan_json(spilled, saved)
    assert list(plan_from_json(saved.getvalue()).changes) == list(spilled.changes)


def test_a_spilled_plan_applies_the_same_documents(demo: Loaded, target: QboTarget, store: Store,
                                                   sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_AFTER", 1)
    plan = _plan(demo, target, store)
    assert isinstance(plan.changes, Spilled)
    report = apply_plan(plan, target, store)
    assert report.ok, report.failures
    invoices = {i["DocNumber"]: i for i in _docs(sandbox, "Invoice")}
    assert {"FB1201", "FB1202"} <= set(invoices)
    assert invoices["FB1201"]["Balance"] == 0  # its payment, planned in the same plan, found the invoice's id
    again = _plan(demo, target, store)
    assert not again.has_changes and sum(again.unchanged.values()) == 7


def test_spilled_items_read_back_by_index_in_turn_and_nested() -> None:
    items: list[Any] = [{"n": n, "text": "x" * (n % 7)} for n in range(50)]
    items.insert(20, {"big": "y" * (3 << 20)})  # larger than one read-ahead block
    seq: Spilled[Any] = Spilled(items)
    assert len(seq) == 51 and list(seq) == items
    assert seq[0] == items[0] and seq[-1] == items[-1] and seq[20] == items[20] and list(seq[3:6]) == items[3:6]
    assert [(a["n"], b["n"]) for a in seq[:3] for b in seq if "n" in b][:3] == [(0, 0), (0, 1), (0, 2)]
    pairs = [(a, b) for a, b in zip(seq, iter(seq), strict=True)]  # two readers at once
    assert all(a == b for a, b in pairs)
    assert pickle.loads(pickle.dumps(seq)) == tuple(items)
    with pytest.raises(IndexError):
        seq[51]


def test_a_spilling_list_stays_in_memory_until_its_limit() -> None:
    small: SpillingList[int] = SpillingList(after=3)
    small.extend([1, 2, 3])
    assert small.done() == (1, 2, 3)
    large: SpillingList[int] = SpillingList(after=3)
    large.extend(range(10))
    assert isinstance(large.done(), Spilled) and list(large.done()) == list(range(10)) and large[4] == 4


def test_packed_payloads_and_diffs_equal_what_they_hold() -> None:
    payload = {"DocNumber": "A1", "Line": [{"Amount": "1.50", "Qty": 2}], "Flag": False, "Note": None, "é": "ü"}
    packed = pack_payload(payload)
    assert isinstance(packed, PackedPayload) and packed == payload and payload == packed
    assert dict(packed.items()) == payload and packed.get("Missing", 3) == 3 and "Line" in packed
    assert pickle.loads(pickle.dumps(packed)) == payload
    assert pack_payload({"when": object}) == {"when": object}  # not JSON data: kept as it is
    diffs = (FieldChange("Line", [{"Amount": "1"}], [{"Amount": "2"}]), FieldChange("Note", None, "x"))
    packed_diffs = pack_diffs(diffs)
    assert isinstance(packed_diffs, PackedDiffs) and packed_diffs == diffs and packed_diffs[1] == diffs[1]
    change = Change("update", "f", "Invoice", "k", payload=packed, diffs=packed_diffs)
    assert change == Change("update", "f", "Invoice", "k", payload=payload, diffs=diffs)
