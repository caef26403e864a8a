"""Batch writes: chunks of 30, per-item results in order, partial failures, stale items, lost answers."""

from __future__ import annotations

from connectors.qbo.client import QboClient
from connectors.qbo.faults import FaultClass
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import FaultKind, FaultRule, Sandbox
from tests.connectors.qbo.helpers import FR, count


def _classes(n: int, prefix: str = "B") -> list[WriteRequest]:
    return [WriteRequest("Class", "create", {"Name": f"{prefix}{i:03}"}, flow="cls", source_key=str(i))
            for i in range(n)]


def _batch_calls(sandbox: Sandbox) -> int:
    return sum(1 for fault in sandbox.faults.history if fault.target == "batch")


def test_65_creates_go_in_three_batch_calls(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Class")
    calls = []
    original = qbo.attempt
    qbo.attempt = lambda call: calls.append(call.path) or original(call)  # type: ignore[method-assign]
    results = qbo.batch(_classes(65))
    assert [r.status for r in results] == ["done"] * 65
    assert [r.record["Name"] for r in results if r.record] == [f"B{i:03}" for i in range(65)]
    assert calls == ["batch", "batch", "batch"]
    assert count(sandbox, "Class") == before + 65


def test_partial_failure_gives_per_item_results(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.write(FR, "Class", {"Name": "Taken"})
    requests = [*_classes(2, "P"), WriteRequest("Class", "create", {"Name": "Taken"}),
                WriteRequest("Invoice", "create", {"Line": []}), *_classes(2, "Q")]
    results = qbo.batch(requests)
    assert [r.status for r in results] == ["done", "done", "failed", "failed", "done", "done"]
    assert results[2].fault is not None and results[2].fault.kind == "duplicate_name"
    assert results[3].fault is not None and results[3].fault.fault_class is FaultClass.DATA
    assert results[3].fault.entity == "Invoice"


def test_stale_item_is_rerun_alone_and_reapplied(qbo: QboClient, sandbox: Sandbox) -> None:
    made = sandbox.write(FR, "Customer", {"DisplayName": "Stale Co"})
    sandbox.write(FR, "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Notes": "human"})
    update = WriteRequest("Customer", "update", {"CompanyName": "Stale Co SA"}, target_id=made["Id"],
                          sync_token="0", base={"CompanyName": None})
    results = qbo.batch([update, *_classes(1, "S")])
    assert [r.status for r in results] == ["done", "done"]
    stored = sandbox.read(FR, "Customer", made["Id"])
    assert stored["CompanyName"] == "Stale Co SA" and stored["Notes"] == "human" and stored["SyncToken"] == "2"


def test_void_and_unknown_token_items_run_alone(qbo: QboClient, sandbox: Sandbox) -> None:
    made = sandbox.write(FR, "Customer", {"DisplayName": "No token Co"})
    results = qbo.batch([WriteRequest("Customer", "update", {"Notes": "n"}, target_id=made["Id"]),
                         WriteRequest("Bill", "void", target_id="1", sync_token="0")])
    assert results[0].ok and results[1].fault is not None and results[1].fault.kind == "unsupported_operation"


def test_lost_answer_to_a_committed_batch_is_replayed(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Class")
    sandbox.faults.next_write("batch", FaultKind.TIMEOUT, after_commit=True)
    results = qbo.batch(_classes(5, "T"))
    assert all(r.ok for r in results)
    assert count(sandbox, "Class") == before + 5
    assert _batch_calls(sandbox) == 1


def test_batch_never_answered_is_probed_per_item(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Class")
    sandbox.faults.script(FaultRule(FaultKind.SERVER_ERROR, target="batch", method="POST", times=99))
    requests = [WriteRequest("Class", "create", {"Name": "U1"}, match={"Name": "U1"}),
                WriteRequest("Class", "create", {"Name": "U2"})]
    results = qbo.batch(requests)
    assert results[0].ok and results[0].recovered  # committed once, then found by its marker
    assert results[1].status == "uncertain" and results[1].fault is not None
    assert count(sandbox, "Class") == before + 2  # never twice


def test_batch_calls_count_in_the_batch_window(qbo: QboClient) -> None:
    qbo.batch(_classes(31, "W"))
    assert qbo.limiter.counts()[1] == 2
