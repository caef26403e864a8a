"""The client core against the in-process sandbox: reads, create, sparse update with SyncToken, faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.qbo.client import QboClient
from connectors.qbo.faults import FaultClass, QboFault
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import Sandbox
from tests.connectors.qbo.helpers import FR, count, fr_invoice


def test_get_reads_one_record_with_exact_decimals(qbo: QboClient) -> None:
    created = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-GET"), flow="inv", source_key="1"))
    assert created.ok and created.target_id
    record = qbo.get("Invoice", created.target_id)
    assert record["DocNumber"] == "F-GET"
    assert isinstance(record["TotalAmt"], Decimal) and record["TotalAmt"] == Decimal("396.93")


def test_get_unknown_id_is_a_not_found_data_fault(qbo: QboClient) -> None:
    with pytest.raises(QboFault) as caught:
        qbo.get("Invoice", "999999")
    fault = caught.value.fault
    assert fault.kind == "not_found" and fault.code == "610" and fault.fault_class is FaultClass.DATA
    assert fault.entity == "Invoice" and fault.resync_may_fix


def test_every_request_sends_minorversion_75_and_accept_json(qbo: QboClient, sandbox: Sandbox) -> None:
    seen = []
    original = qbo.http.send

    def spy(request, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(request)
        return original(request, **kwargs)

    qbo.http.send = spy  # type: ignore[method-assign]
    qbo.get("Customer", "52")
    qbo.query("select * from Customer")
    assert all(r.url.params["minorversion"] == "75" for r in seen)
    assert all(r.headers["accept"] == "application/json" for r in seen)


def test_query_all_pages_to_exhaustion(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.load_fixtures(FR, {"Class": [{"Name": f"C{i:03}"} for i in range(25)]})
    small = QboClient(qbo.http, type(qbo.settings)(**{**qbo.settings.__dict__, "page_size": 10}), auth=qbo.auth,
                      limiter=qbo.limiter)
    pages = []
    original = small.query

    def counting(text: str) -> dict:  # type: ignore[type-arg]
        pages.append(text)
        return original(text)

    small.query = counting  # type: ignore[method-assign]
    rows = list(small.query_all("Class"))
    total = count(sandbox, "Class")
    assert len(rows) == total >= 25
    assert len({row["Id"] for row in rows}) == total
    assert len(pages) == total // 10 + 1
    assert "STARTPOSITION 11 MAXRESULTS 10" in pages[1]


def test_query_all_name_lists_include_inactive_on_request(qbo: QboClient, sandbox: Sandbox) -> None:
    made = sandbox.write(FR, "Class", {"Name": "Old class"})
    sandbox.write(FR, "Class", {"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True, "Active": False})
    active = {row["Name"] for row in qbo.query_all("Class")}
    every = {row["Name"] for row in qbo.query_all("Class", include_inactive=True)}
    assert "Old class" not in active and "Old class" in every


def test_query_with_quoted_value(qbo: QboClient, sandbox: Sandbox) -> None:
    sandbox.write(FR, "Customer", {"DisplayName": "Adam's Candy Shop"})
    rows = list(qbo.query_all("Customer", "DisplayName = 'Adam\\'s Candy Shop'"))
    assert [row["DisplayName"] for row in rows] == ["Adam's Candy Shop"]


def test_create_then_sparse_update_with_synctoken(qbo: QboClient, sandbox: Sandbox) -> None:
    created = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-UPD"), flow="inv", source_key="2"))
    assert created.ok and created.sync_token == "0"
    update = WriteRequest("Invoice", "update", {"PrivateNote": "paid by transfer"}, flow="inv", source_key="2",
                          target_id=created.target_id, sync_token=created.sync_token)
    updated = qbo.write(update)
    assert updated.ok and updated.sync_token == "1"
    stored = sandbox.read(FR, "Invoice", created.target_id)
    assert stored["PrivateNote"] == "paid by transfer" and stored["DocNumber"] == "F-UPD"  # sparse: rest kept


def test_update_without_synctoken_reads_it_first(qbo: QboClient) -> None:
    created = qbo.write(WriteRequest("Customer", "create", {"DisplayName": "No token"}))
    result = qbo.write(WriteRequest("Customer", "update", {"Notes": "x"}, target_id=created.target_id))
    assert result.ok and result.sync_token == "1"


def test_validation_fault_is_a_failed_result_not_an_exception(qbo: QboClient) -> None:
    result = qbo.write(WriteRequest("Invoice", "create", {"Line": []}, flow="inv", source_key="bad"))
    assert result.status == "failed" and result.fault is not None
    assert result.fault.fault_class is FaultClass.DATA and result.fault.code == "2020"
    assert result.fault.entity == "Invoice" and result.fault.operation == "create"
    assert result.fault.hint


def test_duplicate_docnumber_is_classed(qbo: QboClient) -> None:
    assert qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-DUP"), source_key="a")).ok
    second = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-DUP", PrivateNote="x"), source_key="b"))
    assert second.fault is not None and second.fault.kind == "duplicate_number" and second.fault.code == "6140"


def test_preferences_and_company_info_are_read_once(qbo: QboClient, sandbox: Sandbox) -> None:
    first = qbo.preferences()
    assert "SalesFormsPrefs" in first
    sandbox.faults.next_write("preferences")  # would fail a second read if one were made (GET is not a write)
    assert qbo.preferences() is first
    assert qbo.company_info()["CompanyName"]
