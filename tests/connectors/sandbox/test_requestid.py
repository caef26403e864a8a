"""A write repeated with the same requestid returns the first response and writes nothing new."""

from __future__ import annotations

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import FR, US, fault_code, fr_invoice


def _count(client: InProcessClient, entity: str, realm_id: str = FR) -> int:
    body = client.query(f"select count(*) from {entity}", realm_id=realm_id).json()["QueryResponse"]
    return int(body["totalCount"])


def test_repeated_requestid_replays_without_writing(client: InProcessClient) -> None:
    before = _count(client, "Invoice")
    first = client.create("Invoice", fr_invoice(), params={"requestid": "req-0001"})
    again = client.create("Invoice", fr_invoice(), params={"requestid": "req-0001"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert _count(client, "Invoice") == before + 1


def test_a_fault_is_replayed_too(client: InProcessClient) -> None:
    first = client.create("Customer", {"Notes": "no name"}, params={"requestid": "req-f"})
    client.sandbox.write(FR, "Customer", {"DisplayName": "Late fix"})
    again = client.create("Customer", {"Notes": "no name"}, params={"requestid": "req-f"})
    assert fault_code(first) == fault_code(again) == "2020"


def test_same_requestid_for_another_request_is_600(client: InProcessClient) -> None:
    client.create("Class", {"Name": "R1"}, params={"requestid": "req-x"})
    other = client.create("Class", {"Name": "R2"}, params={"requestid": "req-x"})
    assert fault_code(other) == "600"
    assert _count(client, "Class") == 3


def test_requestids_are_per_company_and_limited_to_50_chars(client: InProcessClient) -> None:
    line = [{"DetailType": "SalesItemLineDetail", "Amount": 5, "SalesItemLineDetail": {"ItemRef": {"value": "60"}}}]
    client.create("Invoice", fr_invoice(), params={"requestid": "shared"})
    us = client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": line}, realm_id=US,
                       params={"requestid": "shared"})
    assert us.json()["Invoice"]["CurrencyRef"]["value"] == "USD"
    assert fault_code(client.create("Class", {"Name": "L"}, params={"requestid": "r" * 51})) == "2050"


def test_batch_requestid_replays(client: InProcessClient) -> None:
    body = {"BatchItemRequest": [{"bId": "1", "operation": "create", "Class": {"Name": "Batch once"}}]}
    url = f"{client.company()}/batch"
    first = client.post(url, json=body, params={"requestid": "batch-1"}).json()
    again = client.post(url, json=body, params={"requestid": "batch-1"}).json()
    assert first == again and "Class" in first["BatchItemResponse"][0]
    assert _count(client, "Class") == 3
