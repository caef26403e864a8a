"""Sparse updates on a stale SyncToken (5010): re-read, re-apply when our fields are untouched, else conflict."""

from __future__ import annotations

from connectors.qbo.client import QboClient
from connectors.qbo.faults import FaultClass
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import Sandbox
from tests.connectors.qbo.helpers import FR, fr_invoice


def _invoice(qbo: QboClient, doc: str) -> tuple[str, str]:
    created = qbo.write(WriteRequest("Invoice", "create", fr_invoice(doc), flow="inv", source_key=doc))
    assert created.ok and created.target_id and created.sync_token and created.record
    return created.target_id, created.sync_token


def _due(sandbox: Sandbox, invoice_id: str) -> str:
    return str(sandbox.read(FR, "Invoice", invoice_id)["DueDate"])


def test_stale_token_reapplies_when_someone_changed_other_fields(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice_id, token = _invoice(qbo, "F-5010A")
    due = _due(sandbox, invoice_id)
    sandbox.write(FR, "Invoice", {"Id": invoice_id, "SyncToken": token, "sparse": True, "PrivateNote": "by a human"})
    request = WriteRequest("Invoice", "update", {"DueDate": "2025-03-31"}, flow="inv", source_key="F-5010A",
                           target_id=invoice_id, sync_token=token, base={"DueDate": due})
    seen = []
    original = qbo.attempt
    qbo.attempt = lambda call: seen.append(original(call)) or seen[-1]  # type: ignore[method-assign]
    result = qbo.write(request)
    assert result.ok and result.sync_token == "2"
    assert any(a.fault is not None and a.fault.code == "5010" for a in seen)  # the stale write really happened
    stored = sandbox.read(FR, "Invoice", invoice_id)
    assert stored["DueDate"] == "2025-03-31" and stored["PrivateNote"] == "by a human"


def test_stale_token_with_our_field_changed_is_a_conflict(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice_id, token = _invoice(qbo, "F-5010B")
    sandbox.write(FR, "Invoice", {"Id": invoice_id, "SyncToken": token, "sparse": True, "DueDate": "2025-02-28"})
    request = WriteRequest("Invoice", "update", {"DueDate": "2025-03-31"}, target_id=invoice_id, sync_token=token,
                           base={"DueDate": "2025-02-14"})
    result = qbo.write(request)
    assert result.status == "conflict" and result.fault is not None
    assert result.fault.fault_class is FaultClass.CONFLICT and "DueDate" in result.fault.message
    assert result.fault.resync_may_fix
    assert sandbox.read(FR, "Invoice", invoice_id)["DueDate"] == "2025-02-28"  # the human's value stays


def test_stale_token_without_base_is_a_conflict(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice_id, token = _invoice(qbo, "F-5010C")
    sandbox.write(FR, "Invoice", {"Id": invoice_id, "SyncToken": token, "sparse": True, "PrivateNote": "x"})
    result = qbo.write(WriteRequest("Invoice", "update", {"DueDate": "2025-03-31"}, target_id=invoice_id,
                                    sync_token=token))
    assert result.status == "conflict"


def test_stale_token_when_qbo_already_holds_our_values_is_done(qbo: QboClient, sandbox: Sandbox) -> None:
    invoice_id, token = _invoice(qbo, "F-5010D")
    sandbox.write(FR, "Invoice", {"Id": invoice_id, "SyncToken": token, "sparse": True, "DueDate": "2025-03-31"})
    result = qbo.write(WriteRequest("Invoice", "update", {"DueDate": "2025-03-31"}, target_id=invoice_id,
                                    sync_token=token, base={"DueDate": "2025-02-14"}))
    assert result.ok and result.sync_token == "1"


def test_lines_compare_despite_ids_and_subtotal_added_by_qbo(qbo: QboClient, sandbox: Sandbox) -> None:
    payload = fr_invoice("F-5010E")
    created = qbo.write(WriteRequest("Invoice", "create", payload))
    assert created.target_id and created.sync_token
    sandbox.write(FR, "Invoice", {"Id": created.target_id, "SyncToken": created.sync_token, "sparse": True,
                                  "PrivateNote": "human"})
    result = qbo.write(WriteRequest("Invoice", "update", {"Line": payload["Line"][:1]}, target_id=created.target_id,
                                    sync_token=created.sync_token, base={"Line": payload["Line"]}))
    assert result.ok
    lines = [line for line in sandbox.read(FR, "Invoice", created.target_id)["Line"]
             if line["DetailType"] == "SalesItemLineDetail"]
    assert len(lines) == 1
