"""Void, delete and deactivate by QBO's per-entity rules; attachment upload."""

from __future__ import annotations

import pytest

from connectors.qbo.client import QboClient
from connectors.qbo.faults import FaultClass
from connectors.qbo.upload import Upload
from connectors.qbo.writes import VOID_STYLES, WriteRequest
from connectors.sandbox import FaultKind, Sandbox
from tests.connectors.qbo.helpers import FR, count, fr_bill, fr_invoice


def _payment(sandbox: Sandbox) -> dict:  # type: ignore[type-arg]
    return sandbox.write(FR, "Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 50, "PaymentRefNum": "P1"})


def test_invoice_void_uses_operation_void(qbo: QboClient, sandbox: Sandbox) -> None:
    made = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-V1")))
    result = qbo.write(WriteRequest("Invoice", "void", target_id=made.target_id, sync_token=made.sync_token))
    assert result.ok and result.record and result.record["TotalAmt"] == 0
    assert str(sandbox.read(FR, "Invoice", made.target_id)["PrivateNote"]).startswith("Voided")


def test_payment_void_uses_update_include_void(qbo: QboClient, sandbox: Sandbox) -> None:
    payment = _payment(sandbox)
    result = qbo.write(WriteRequest("Payment", "void", target_id=payment["Id"]))  # SyncToken read first
    assert result.ok and result.record and result.record["TotalAmt"] == 0
    assert VOID_STYLES["Payment"] == "include"


@pytest.mark.parametrize("entity", ["Bill", "Purchase", "CreditMemo"])
def test_entities_without_an_api_void_fail_without_a_call(qbo: QboClient, entity: str) -> None:
    calls = []
    qbo.attempt = calls.append  # type: ignore[assignment, method-assign]
    result = qbo.write(WriteRequest(entity, "void", target_id="1", sync_token="0"))
    assert result.status == "failed" and result.fault is not None
    assert result.fault.kind == "unsupported_operation" and result.fault.fault_class is FaultClass.CONFIG
    assert "delete" in result.fault.message and calls == []


def test_transaction_delete(qbo: QboClient, sandbox: Sandbox) -> None:
    bill = sandbox.write(FR, "Bill", fr_bill())
    result = qbo.write(WriteRequest("Bill", "delete", target_id=bill["Id"], sync_token=bill["SyncToken"]))
    assert result.ok and result.record and result.record["status"] == "Deleted"
    assert not sandbox.query(FR, f"select * from Bill where Id = '{bill['Id']}'").get("Bill")


def test_delete_of_something_already_gone_is_done(qbo: QboClient) -> None:
    result = qbo.write(WriteRequest("Bill", "delete", target_id="987654"))
    assert result.ok and result.record == {"Id": "987654", "status": "Deleted"}


def test_name_list_delete_deactivates(qbo: QboClient, sandbox: Sandbox) -> None:
    made = sandbox.write(FR, "Customer", {"DisplayName": "Leaving Ltd"})
    result = qbo.write(WriteRequest("Customer", "delete", target_id=made["Id"]))
    assert result.ok and result.request.operation == "deactivate"
    assert sandbox.read(FR, "Customer", made["Id"])["Active"] is False


def test_deactivate_is_refused_for_transactions(qbo: QboClient) -> None:
    result = qbo.write(WriteRequest("Invoice", "deactivate", target_id="1"))
    assert result.fault is not None and result.fault.kind == "unsupported_operation"


def test_write_needs_a_target_id(qbo: QboClient) -> None:
    result = qbo.write(WriteRequest("Invoice", "update", {"PrivateNote": "x"}))
    assert result.fault is not None and result.fault.fault_class is FaultClass.CONFIG


def test_delete_of_invoice_with_payments_is_a_business_rule_fault(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-LINKED")))
    sandbox.write(FR, "Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 10, "PaymentRefNum": "P2",
                                  "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": invoice.target_id,
                                                                         "TxnType": "Invoice"}]}]})
    result = qbo.write(WriteRequest("Invoice", "delete", target_id=invoice.target_id))
    assert result.status == "failed" and result.fault is not None and result.fault.code == "6000"


def test_upload_links_a_file_to_a_transaction(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-ATT")))
    data = b"%PDF-1.4 receipt\n\x00\x01 binary ends with newline\n"
    result = qbo.upload(Upload("Invoice", str(invoice.target_id), "receipt.pdf", data, flow="inv", source_key="7"))
    assert result.ok and result.record
    attachable_id = result.record["Id"]
    assert sandbox.realm(FR).files[attachable_id] == data
    link = result.record["AttachableRef"][0]["EntityRef"]
    assert link["type"] == "Invoice" and link["value"] == invoice.target_id


def test_upload_that_commits_then_times_out_is_replayed_not_duplicated(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-ATT2")))
    before = count(sandbox, "Attachable")
    sandbox.faults.next_write("upload", FaultKind.TIMEOUT)
    result = qbo.upload(Upload("Invoice", str(invoice.target_id), "r.png", b"\x89PNG...", "image/png"))
    assert result.ok and result.attempts == 2
    assert count(sandbox, "Attachable") == before + 1


def test_upload_of_a_forbidden_type_is_a_data_fault(qbo: QboClient) -> None:
    result = qbo.upload(Upload("Invoice", "1", "x.exe", b"MZ", "application/x-msdownload"))
    assert result.status == "failed" and result.fault is not None and result.fault.kind == "validation"
