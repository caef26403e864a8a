"""A plan reads QBO in bulk (match lookups and live records per chunk) and is the same plan it would be
reading one record at a time; unchanged records cost no read at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.qbo_target import QboTarget
from connectors.sandbox import Sandbox
from connectors.sources import sources_for
from engine.pipeline import Loaded
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanProgress, make_plan
from engine.runtime.render import plan_to_json
from engine.store import Store
from tests.connectors.qbo.helpers import fr_invoice
from tests.engine.runtime.conftest import REALM
from tests.engine.runtime.test_plan_apply import OPTIONS, EditedSource


class OneByOne:
    """The same target without bulk reads: every lookup is its own query."""

    def __init__(self, inner: QboTarget) -> None:
        self.inner = inner

    def reference_data(self) -> Any:
        return self.inner.reference_data()

    def get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None:
        return self.inner.get(entity, entity_id)

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.inner.find(entity, criteria)

    def is_voided(self, record: Mapping[str, Any]) -> bool:
        return self.inner.is_voided(record)

    def fingerprint(self) -> str:
        return "same"


def _plan(demo: Loaded, target: Any, store: Store, sources: Mapping[str, Any] | None = None,
          progress: Any = None) -> Plan:
    return make_plan(demo, target, sources or sources_for(demo.resolved.connections),
                     StoreLedger(store, demo.resolved.key), OPTIONS, progress=progress)


def _same(plan: Plan) -> str:
    return plan_to_json(Plan(**{**plan.__dict__, "created_at": "", "fingerprint": ""}))


def _requests(sandbox: Sandbox) -> int:
    return int(sandbox.load_report()[REALM]["requests"])


def test_a_bulk_plan_is_the_plan_of_single_reads_with_fewer_requests(demo: Loaded, target: QboTarget, store: Store,
                                                                      sandbox: Sandbox) -> None:
    # One invoice exists in QBO already (adopted by its DocNumber), the others are new.
    sandbox.write(REALM, "Invoice", fr_invoice("FB1201"))
    target.reference_data().load()
    sandbox.reset_load()
    bulk = _plan(demo, target, store)
    bulk_requests = _requests(sandbox)
    sandbox.reset_load()
    single = _plan(demo, OneByOne(target), store)
    single_requests = _requests(sandbox)
    assert _same(bulk) == _same(single)
    assert [c.action for c in bulk.changes if c.key == "1201"] == ["adopt"]
    assert bulk_requests < single_requests


def test_changed_records_are_read_in_bulk_and_unchanged_ones_not_at_all(demo: Loaded, target: QboTarget,
                                                                         store: Store, sandbox: Sandbox) -> None:
    assert apply_plan(_plan(demo, target, store), target, store).ok
    target.reference_data().load()
    sandbox.reset_load()
    unchanged = _plan(demo, target, store)
    assert not unchanged.has_changes and _requests(sandbox) == 0  # the ledger's hashes: nothing to read
    sources = sources_for(demo.resolved.connections)
    edited = {"product": EditedSource(sources["product"], "1202", {"due_date": "2024-05-31"})}
    sandbox.reset_load()
    bulk = _plan(demo, target, store, edited)
    bulk_requests = _requests(sandbox)
    single = _plan(demo, OneByOne(target), store, edited)
    assert _same(bulk) == _same(single)
    assert [c.action for c in bulk.changes if c.action != "skip"] == ["update"]
    assert bulk_requests == 1  # the changed invoice's live state, by Id IN (...)


def test_progress_is_reported_per_chunk(demo: Loaded, target: QboTarget, store: Store) -> None:
    seen: list[PlanProgress] = []
    plan = _plan(demo, target, store, progress=seen.append)
    assert seen and seen[-1].read >= len(plan.changes)
    assert seen[-1].changes == len(plan.changes)
    assert [p.read for p in seen] == sorted(p.read for p in seen)
