"""Change data capture since a cursor, and the reference-data cache."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.qbo.client import QboClient
from connectors.qbo.reads import REFERENCE_ENTITIES, quote
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import ManualClock, Sandbox
from engine.context import ReferenceData
from tests.connectors.qbo.helpers import FR, fr_invoice


def test_cdc_returns_changes_and_deletions_since_the_cursor(qbo: QboClient, sandbox: Sandbox,
                                                            clock: ManualClock) -> None:
    clock.advance(60)
    since = clock.now()
    clock.advance(60)
    invoice = qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-CDC")))
    customer = sandbox.write(FR, "Customer", {"DisplayName": "CDC Ltd"})
    bill = sandbox.write(FR, "Bill", {"VendorRef": {"value": "56"}, "GlobalTaxCalculation": "TaxExcluded",
                                      "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": 5,
                                                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"},
                                                                                  "TaxCodeRef": {"value": "31"}}}]})
    sandbox.write(FR, "Bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, "delete")
    clock.advance(1)
    result = qbo.cdc(["Invoice", "Customer", "Bill"], since)
    assert {(c.entity, c.id) for c in result.of("Invoice")} == {("Invoice", invoice.target_id)}
    assert [c.id for c in result.of("Customer")] == [customer["Id"]]
    deleted = result.of("Bill")
    assert len(deleted) == 1 and deleted[0].deleted
    assert result.cursor  # the answer's time: the next poll starts there
    clock.advance(60)
    assert qbo.cdc(["Invoice"], result.cursor).changes == ()  # nothing new since the cursor
    later = sandbox.write(FR, "Customer", {"DisplayName": "Later Ltd"})
    assert [c.id for c in qbo.cdc(["Customer"], result.cursor).changes] == [later["Id"]]


def test_cdc_reads_past_a_full_answer_of_1000(qbo: QboClient, sandbox: Sandbox, clock: ManualClock) -> None:
    since = clock.now()
    for i in range(1003):
        if i % 250 == 0:
            clock.advance(1)
        sandbox.write(FR, "Class", {"Name": f"K{i:04}"})
    result = qbo.cdc(["Class"], since - timedelta(seconds=1))
    assert len({c.id for c in result.changes}) == len(result.changes)  # no record twice
    assert sum(1 for c in result.changes if str(c.record.get("Name", "")).startswith("K")) == 1003


def test_cdc_refuses_naive_datetimes(qbo: QboClient) -> None:
    with pytest.raises(ValueError):
        qbo.cdc(["Invoice"], qbo_naive())


def qbo_naive():  # type: ignore[no-untyped-def]
    from datetime import datetime
    return datetime(2025, 1, 1)


def test_reference_data_is_loaded_once_and_found_by_field(qbo: QboClient) -> None:
    data = qbo.reference_data()
    as_protocol: ReferenceData = data  # what the engine's evaluation context takes
    account = as_protocol.find("Account", "Id", "10")
    assert account is not None
    account = data.find("Account", "Id", "10")
    assert account is not None
    assert data.find("Account", "Name", account["Name"]) is account
    assert data.find("Customer", "Id", "52") is not None
    assert data.find("Customer", "DisplayName", "nobody at all") is None
    loads = data.loads
    data.find("Account", "AcctNum", "x")
    data.find("Customer", "Id", "52")
    assert data.loads == loads  # no second fetch
    assert qbo.reference_data() is data


def test_reference_data_finds_nested_fields_and_prefers_active(qbo: QboClient, sandbox: Sandbox) -> None:
    old = sandbox.write(FR, "Item", {"Name": "Twin old", "Type": "Service", "Sku": "SKU-1",
                                     "IncomeAccountRef": {"value": "15"}})
    sandbox.write(FR, "Item", {"Id": old["Id"], "SyncToken": old["SyncToken"], "sparse": True, "Active": False})
    new = sandbox.write(FR, "Item", {"Name": "Twin new", "Type": "Service", "Sku": "SKU-1",
                                     "IncomeAccountRef": {"value": "15"}})
    data = qbo.reference_data()
    found = data.find("Item", "Sku", "SKU-1")
    assert found is not None and found["Id"] == new["Id"]
    assert data.find("Item", "Name", "Twin old") is not None  # inactive records are still known
    assert data.find("Item", "IncomeAccountRef.value", "15") is not None


def test_load_all_reference_entities_and_preferences(qbo: QboClient) -> None:
    data = qbo.reference_data().load()
    assert data.loads == len(REFERENCE_ENTITIES)
    assert data.preferences()["SalesFormsPrefs"] is not None


def test_records_written_during_the_run_join_the_cache(qbo: QboClient) -> None:
    data = qbo.reference_data()
    assert data.find("Customer", "DisplayName", "Fresh SARL") is None
    revision = data.revision
    created = qbo.write(WriteRequest("Customer", "create", {"DisplayName": "Fresh SARL"}))
    found = data.find("Customer", "DisplayName", "Fresh SARL")
    assert found is not None and found["Id"] == created.target_id
    assert data.revision > revision  # refs that remembered answers of the older data ask again


def test_find_by_criteria(qbo: QboClient) -> None:
    qbo.write(WriteRequest("Invoice", "create", fr_invoice("F-FIND")))
    found = qbo.find("Invoice", {"DocNumber": "F-FIND"})
    assert found is not None and found["DocNumber"] == "F-FIND"
    assert qbo.find("Invoice", {"DocNumber": "nope"}) is None
    assert quote("O'Hara") == "'O\\'Hara'" and quote(True) == "true"
