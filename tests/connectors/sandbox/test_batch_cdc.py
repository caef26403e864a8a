"""Batch (30 items, per-item results and faults, bId) and change data capture."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import ManualClock
from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import fault_code, fr_invoice


def _batch(client: InProcessClient, items: list[dict[str, Any]], **params: str) -> Any:
    return client.post(f"{client.company()}/batch", json={"BatchItemRequest": items},
                       params={"minorversion": "75", **params})


def test_batch_items_answer_independently(client: InProcessClient) -> None:
    existing = client.create("Customer", {"DisplayName": "Batch Base"}).json()["Customer"]
    response = _batch(client, [
        {"bId": "1", "operation": "create", "Vendor": {"DisplayName": "Nouveau Fournisseur"}},
        {"bId": "2", "operation": "create", "Vendor": {"DisplayName": "Papeterie Durand"}},
        {"bId": "3", "operation": "update", "Customer": {"Id": existing["Id"], "SyncToken": "5", "sparse": True,
                                                         "Notes": "x"}},
        {"bId": "4", "operation": "delete", "Invoice": {"Id": "999", "SyncToken": "0"}},
        {"bId": "5", "Query": "select * from Term where Name = 'Net 45'"},
        {"bId": "6", "operation": "void", "Invoice": {"Id": "1", "SyncToken": "0"}},
    ])
    assert response.status_code == 200
    items = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert items["1"]["Vendor"]["DisplayName"] == "Nouveau Fournisseur"
    assert items["2"]["Fault"]["Error"][0]["code"] == "6240"
    assert items["3"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["4"]["Fault"]["Error"][0]["code"] == "610"
    assert items["5"]["QueryResponse"]["Term"][0]["DueDays"] == 45
    assert items["6"]["Fault"]["Error"][0]["code"] == "500"
    assert client.query("select * from Vendor where DisplayName = 'Nouveau Fournisseur'").json()["QueryResponse"]


def test_batch_limit_is_30_items(client: InProcessClient) -> None:
    items = [{"bId": str(n), "operation": "create", "Class": {"Name": f"B{n}"}} for n in range(31)]
    response = _batch(client, items)
    assert response.status_code == 400 and fault_code(response) == "1040"
    assert client.query("select count(*) from Class").json()["QueryResponse"]["totalCount"] == 2
    assert len(_batch(client, items[:30]).json()["BatchItemResponse"]) == 30


def test_batch_bid_limit_with_requestid(client: InProcessClient) -> None:
    response = _batch(client, [{"bId": "b" * 11, "operation": "create", "Class": {"Name": "Z"}}],
                      requestid="r-1")
    assert response.json()["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2050"


def _cdc(client: InProcessClient, entities: str, since: str) -> Any:
    return client.get(f"{client.company()}/cdc", params={"entities": entities, "changedSince": since,
                                                         "minorversion": "75"})


def test_cdc_returns_changes_and_deletions(client: InProcessClient, clock: ManualClock) -> None:
    kept = client.create("Invoice", fr_invoice(doc="F1")).json()["Invoice"]
    clock.advance(hours=1)
    since = "2025-01-15T10:30:00+01:00"
    dropped = client.create("Invoice", fr_invoice(doc="F2")).json()["Invoice"]
    client.post(f"{client.company()}/invoice", params={"operation": "delete"},
                json={"Id": dropped["Id"], "SyncToken": "0"})
    customer = client.create("Customer", {"DisplayName": "CDC Client"}).json()["Customer"]
    body = _cdc(client, "Invoice,Customer,Vendor", since).json()
    responses = body["CDCResponse"][0]["QueryResponse"]
    by_entity = {next(k for k in r if k not in ("startPosition", "maxResults", "totalCount")): r for r in responses}
    assert set(by_entity) == {"Invoice", "Customer"}
    assert by_entity["Invoice"]["Invoice"] == [{"domain": "QBO", "status": "Deleted", "Id": dropped["Id"],
                                                "MetaData": {"LastUpdatedTime": "2025-01-15T11:00:00+01:00"}}]
    assert by_entity["Customer"]["Customer"][0]["Id"] == customer["Id"]
    everything = _cdc(client, "Invoice", "2025-01-15T09:00:00+01:00").json()["CDCResponse"][0]["QueryResponse"]
    assert [row.get("Id") for row in everything[0]["Invoice"]] == [kept["Id"], dropped["Id"]]


def test_cdc_no_change_window_and_errors(client: InProcessClient, clock: ManualClock) -> None:
    assert _cdc(client, "Invoice", "2025-01-15T12:00:00+01:00").json()["CDCResponse"] == [{"QueryResponse": [{}]}]
    clock.advance(days=31)
    assert _cdc(client, "Invoice", "2025-01-15T12:00:00+01:00").status_code == 400
    assert _cdc(client, "TaxCode", "2025-02-15T12:00:00+01:00").status_code == 400
    assert _cdc(client, "", "2025-02-15T12:00:00+01:00").status_code == 400


def test_cdc_caps_at_1000_objects(client: InProcessClient) -> None:
    client.sandbox.load_fixtures(None, {"Class": [{"Name": f"K{n}"} for n in range(1001)]})
    body = _cdc(client, "Class", "2025-01-14").json()["CDCResponse"][0]["QueryResponse"]
    assert body[0]["maxResults"] == 1000 and len(body[0]["Class"]) == 1000
