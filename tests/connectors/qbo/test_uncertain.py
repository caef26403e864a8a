"""No duplicates: deterministic requestids, and writes that commit but lose their answer (timeout, 5xx, 429)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.qbo.client import QboClient
from connectors.qbo.recovery import match_clause
from connectors.qbo.requestid import payload_hash, request_id
from connectors.qbo.writes import WriteRequest, planned_request_id
from connectors.sandbox import FaultKind, FaultRule, Sandbox
from tests.connectors.qbo.helpers import FR, count, fr_invoice


def _rid(**payload: object) -> str:
    return request_id("p", flow="f", source_key="k", entity="Invoice", operation="create", payload=payload)


def test_requestid_is_deterministic_short_and_payload_sensitive() -> None:
    first = _rid(a=1, b={"x": "y"})
    assert first == _rid(b={"x": "y"}, a=1) and len(first) == 36
    assert _rid(a=Decimal("10.0")) == _rid(a=10) == _rid(a=10.0)
    assert first != _rid(a=2, b={"x": "y"})
    assert request_id("p2", flow="f", source_key="k", entity="Invoice", operation="create", payload={}) != _rid()
    assert payload_hash({"a": 1}) != payload_hash({"a": "1"})


def test_planned_requestid_is_the_one_sent(qbo: QboClient) -> None:
    req = WriteRequest("Customer", "create", {"DisplayName": "Planned"}, flow="c", source_key="1")
    assert qbo.write(req).request_id == planned_request_id(qbo.profile, req)


def test_runtime_supplied_requestid_is_used(qbo: QboClient) -> None:
    req = WriteRequest("Customer", "create", {"DisplayName": "Outbox"}, request_id="outbox-000001")
    result = qbo.write(req)
    assert result.ok and result.request_id == "outbox-000001"


@pytest.mark.parametrize("kind", [FaultKind.TIMEOUT, FaultKind.SERVER_ERROR, FaultKind.THROTTLE])
def test_create_that_commits_then_fails_is_found_by_docnumber(qbo: QboClient, sandbox: Sandbox,
                                                              kind: FaultKind) -> None:
    before = count(sandbox, "Invoice")
    sandbox.faults.next_write("invoice", kind, after_commit=True)
    result = qbo.write(WriteRequest("Invoice", "create", fr_invoice(f"F-UNC-{kind.value}"), flow="inv",
                                    source_key="u1"))
    assert result.ok and result.recovered and result.attempts == 1
    assert count(sandbox, "Invoice") == before + 1
    assert result.record and result.record["DocNumber"] == f"F-UNC-{kind.value}"


def test_create_without_a_key_is_settled_by_requestid_replay(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Customer")
    sandbox.faults.next_write("customer", FaultKind.TIMEOUT, after_commit=True)
    result = qbo.write(WriteRequest("Customer", "create", {"DisplayName": "Replay Ltd"}, flow="c", source_key="9"))
    assert result.ok and not result.recovered and result.attempts == 2
    assert count(sandbox, "Customer") == before + 1


def test_create_that_failed_before_commit_is_sent_again(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Invoice")
    sandbox.faults.next_write("invoice", FaultKind.TIMEOUT, after_commit=False)
    result = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-BEFORE"), source_key="b"))
    assert result.ok and not result.recovered and result.attempts == 2
    assert count(sandbox, "Invoice") == before + 1


def test_marker_written_by_the_pack_finds_the_document(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.faults.next_write("customer", FaultKind.TIMEOUT)
    req = WriteRequest("Customer", "create", {"DisplayName": "Marker SA", "CompanyName": "Marker SA"},
                       match={"DisplayName": "Marker SA"})
    assert match_clause(req) == "DisplayName = 'Marker SA'"
    result = qbo.write(req)
    assert result.ok and result.recovered and result.attempts == 1


def test_update_that_commits_then_times_out(qbo: QboClient, sandbox: Sandbox) -> None:
    made = sandbox.write(FR, "Customer", {"DisplayName": "Up Ltd"})
    sandbox.faults.next_write("customer", FaultKind.TIMEOUT)
    result = qbo.write(WriteRequest("Customer", "update", {"Notes": "n1"}, target_id=made["Id"],
                                    sync_token=made["SyncToken"]))
    assert result.ok and result.recovered and result.sync_token == "1"


def test_delete_that_commits_then_times_out(qbo: QboClient, sandbox: Sandbox) -> None:
    made = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-DEL")))
    sandbox.faults.next_write("invoice", FaultKind.SERVER_ERROR)
    result = qbo.write(WriteRequest("Invoice", "delete", target_id=made.target_id, sync_token=made.sync_token))
    assert result.ok and result.recovered and result.record == {"Id": made.target_id, "status": "Deleted",
                                                                "domain": "QBO"}


def test_void_that_commits_then_times_out(qbo: QboClient, sandbox: Sandbox) -> None:
    made = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-VOID")))
    sandbox.faults.next_write("invoice", FaultKind.TIMEOUT)
    result = qbo.write(WriteRequest("Invoice", "void", target_id=made.target_id, sync_token=made.sync_token))
    assert result.ok and result.recovered and result.record and result.record["TotalAmt"] == 0


def test_no_definite_answer_ever_is_uncertain_and_still_single(qbo: QboClient, sandbox: Sandbox) -> None:
    before = count(sandbox, "Customer")
    sandbox.faults.script(FaultRule(FaultKind.SERVER_ERROR, target="customer", method="POST", times=99))
    result = qbo.write(WriteRequest("Customer", "create", {"DisplayName": "Never sure"}, source_key="x"))
    assert result.status == "uncertain" and result.fault is not None
    assert result.fault.kind == "uncertain" and result.fault.fault_class.value == "transient"
    assert result.fault.resync_may_fix
    assert count(sandbox, "Customer") == before + 1  # committed once, replayed after
    sandbox.faults.clear()
    again = qbo.write(WriteRequest("Customer", "create", {"DisplayName": "Never sure"}, source_key="x"))
    assert again.ok and count(sandbox, "Customer") == before + 1  # the resync replays: still one
