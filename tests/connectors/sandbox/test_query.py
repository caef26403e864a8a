"""The query language: operators, AND, ORDERBY, pages, COUNT, active rows, GET/POST, parse errors (4000)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sandbox.query import Condition, Order, parse_query
from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import fault_code, fr_invoice


def _rows(client: InProcessClient, text: str, entity: str) -> list[dict[str, Any]]:
    response = client.query(text)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["QueryResponse"].get(entity, [])
    return rows


def test_parser_reads_the_grammar() -> None:
    query = parse_query("select * from Invoice where TotalAmt >= '10.5' and DocNumber IN ('A', 'B\\'s') "
                        "and CustomerRef = '52' order by TxnDate desc, Id startposition 3 maxresults 7")
    assert query.entity == "Invoice" and query.star and not query.count
    assert query.where[1] == Condition("DocNumber", "IN", ("A", "B's"))
    assert query.order == (Order("TxnDate", True), Order("Id", False))
    assert (query.start, query.max_results) == (3, 7)
    assert parse_query("SELECT COUNT(*) FROM Customer").count
    assert parse_query("SELECT *, Sku FROM Item").fields == ("Sku",)


@pytest.mark.parametrize("text", [
    "select * from Customer where DisplayName = 'A' or Active = true",
    "select * frm Customer", "select from Customer", "select * from Customer where", "",
    "select * from Customer group by DisplayName", "select * from Customer where DisplayName 'x'",
])
def test_parse_errors_are_4000(client: InProcessClient, text: str) -> None:
    response = client.query(text)
    assert response.status_code == 400 and fault_code(response) == "4000"


def test_validation_errors_are_4000(client: InProcessClient) -> None:
    too_many = client.query("select * from Customer maxresults 1500")
    assert fault_code(too_many) == "4000" and "Max allowed value is 1000" in too_many.text
    assert fault_code(client.query("select * from Widget")) == "4000"
    assert fault_code(client.query("select * from Purchase where AccountRef = '1'")) == "4000"
    assert fault_code(client.query("select * from Customer where Id > '3'")) == "4000"
    assert fault_code(client.query("select * from Customer startposition 0")) == "4000"


def test_operators_and_case_insensitivity(client: InProcessClient) -> None:
    assert [r["Id"] for r in _rows(client, "SELECT * from cUstomer where displayname = 'boulangerie martin'",
                                   "Customer")] == ["52"]
    assert {r["Id"] for r in _rows(client, "select * from Customer where Id in ('52', '54')", "Customer")} == {
        "52", "54"}
    assert [r["Name"] for r in _rows(client, "select * from Item where Name like '%ivre%'", "Item")] == [
        "Livre technique"]
    assert [r["Name"] for r in _rows(client, "select * from Item where Name like 'Con%'", "Item")] == ["Conseil"]
    priced = _rows(client, "select * from Account where AccountType = 'Bank' and Name < 'Banque s'", "Account")
    assert [r["Name"] for r in priced] == ["Banque principale"]


def test_numeric_date_and_reference_comparisons(client: InProcessClient) -> None:
    for number, date, amount in (("F1", "2025-01-01", 10), ("F2", "2025-01-10", 200), ("F3", "2025-01-20", 50)):
        payload = fr_invoice(doc=number, TxnDate=date)
        payload["Line"] = [{"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": {
            "ItemRef": {"value": "60"}, "TaxCodeRef": {"value": "35"}}}]
        client.create("Invoice", payload)
    docs = _rows(client, "select * from Invoice where TotalAmt > '20' and TxnDate <= '2025-01-20' "
                         "orderby TotalAmt desc", "Invoice")
    assert [r["DocNumber"] for r in docs] == ["F2", "F3"]
    assert len(_rows(client, "select * from Invoice where CustomerRef = '52'", "Invoice")) == 3
    assert len(_rows(client, "select * from Invoice where MetaData.LastUpdatedTime >= "
                             "'2025-01-15T00:00:00-08:00'", "Invoice")) == 3
    assert _rows(client, "select * from Invoice where TxnDate > CURRENT_DATE", "Invoice") == [
        r for r in _rows(client, "select * from Invoice where DocNumber = 'F3'", "Invoice")]


def test_pagination_is_one_based(client: InProcessClient) -> None:
    everyone = _rows(client, "select * from Account orderby Id", "Account")
    page = client.query("select * from Account orderby Id startposition 3 maxresults 4").json()["QueryResponse"]
    assert [r["Id"] for r in page["Account"]] == [r["Id"] for r in everyone[2:6]]
    assert page["startPosition"] == 3 and page["maxResults"] == 4


def test_default_page_is_100(client: InProcessClient) -> None:
    client.sandbox.load_fixtures(None, {"Class": [{"Name": f"C{n:03}"} for n in range(120)]})
    assert len(_rows(client, "select * from Class", "Class")) == 100
    assert client.query("select count(*) from Class").json()["QueryResponse"] == {"totalCount": 122}


def test_name_lists_return_active_rows_unless_asked(client: InProcessClient) -> None:
    client.create("Customer", {"Id": "55", "SyncToken": "0", "sparse": True, "Active": False})
    assert "55" not in {r["Id"] for r in _rows(client, "select * from Customer", "Customer")}
    every = _rows(client, "select * from Customer where Active in (true, false)", "Customer")
    assert "55" in {r["Id"] for r in every}
    assert [r["Id"] for r in _rows(client, "select * from Customer where Active = false", "Customer")] == ["55"]


def test_empty_result_and_get_transport(client: InProcessClient) -> None:
    assert client.query("select * from Invoice").json()["QueryResponse"] == {}
    response = client.get(f"{client.company()}/query",
                          params={"query": "select * from Term where Name = 'Net 30'", "minorversion": "75"})
    assert response.json()["QueryResponse"]["Term"][0]["DueDays"] == 30


def test_post_query_needs_application_text(client: InProcessClient) -> None:
    response = client.post(f"{client.company()}/query", json="select * from Term")
    assert response.status_code == 400


def test_projection_and_star_with_fields(client: InProcessClient) -> None:
    rows = _rows(client, "select Id, DisplayName from Customer where Id = '52'", "Customer")
    assert set(rows[0]) == {"Id", "DisplayName", "domain", "sparse"}
    assert "UnitPrice" in _rows(client, "SELECT *, Sku FROM Item", "Item")[0]


def test_attachable_query_by_link(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    client.create("Attachable", {"Note": "hello", "AttachableRef": [
        {"EntityRef": {"type": "Invoice", "value": invoice["Id"]}}]})
    rows = _rows(client, "select Id from attachable where AttachableRef.EntityRef.Type = 'invoice' and "
                         f"AttachableRef.EntityRef.value = '{invoice['Id']}'", "Attachable")
    assert len(rows) == 1
