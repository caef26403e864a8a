"""Void and delete per entity, as QBO does them; name-list entities are only deactivated."""

from __future__ import annotations

from typing import Any

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import US, fault_code, fr_bill, fr_invoice


def _ident(row: dict[str, Any]) -> dict[str, str]:
    return {"Id": row["Id"], "SyncToken": row["SyncToken"]}


def test_invoice_void_zeroes_amounts_and_keeps_the_document(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice(PrivateNote="client call")).json()["Invoice"]
    response = client.post(f"{client.company()}/invoice", params={"operation": "void"}, json=_ident(invoice))
    voided = response.json()["Invoice"]
    assert response.status_code == 200 and voided["SyncToken"] == "1"
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["TxnTaxDetail"]["TotalTax"] == 0
    assert all(line["Amount"] == 0 for line in voided["Line"])
    assert voided["PrivateNote"].startswith("Voided")
    assert client.get(f"{client.company()}/invoice/{invoice['Id']}").status_code == 200


def test_invoice_void_needs_current_synctoken(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    stale = {"Id": invoice["Id"], "SyncToken": "7"}
    assert fault_code(client.post(f"{client.company()}/invoice", params={"operation": "void"}, json=stale)) == "5010"


def test_sales_receipt_voids_with_update_include_void_only(client: InProcessClient) -> None:
    receipt = client.create("SalesReceipt", fr_invoice(doc="V1001")).json()["SalesReceipt"]
    wrong = client.post(f"{client.company()}/salesreceipt", params={"operation": "void"}, json=_ident(receipt))
    assert wrong.status_code == 400 and fault_code(wrong) == "500"
    right = client.post(f"{client.company()}/salesreceipt", params={"operation": "update", "include": "void"},
                        json={**_ident(receipt), "sparse": True})
    assert right.json()["SalesReceipt"]["TotalAmt"] == 0


def test_bill_void_is_a_system_fault_with_http_200(client: InProcessClient) -> None:
    bill = client.create("Bill", fr_bill()).json()["Bill"]
    response = client.post(f"{client.company()}/bill", params={"operation": "void"}, json=_ident(bill))
    assert response.status_code == 200
    assert fault_code(response) == "10000" and response.json()["Fault"]["type"] == "SystemFault"


def test_purchase_and_bill_payment_operation_void_unsupported(client: InProcessClient) -> None:
    purchase = client.create("Purchase", {"PaymentType": "Cash", "AccountRef": {"value": "1"},
                                          "GlobalTaxCalculation": "TaxExcluded",
                                          "Line": fr_bill()["Line"]}).json()["Purchase"]
    response = client.post(f"{client.company()}/purchase", params={"operation": "void"}, json=_ident(purchase))
    assert response.status_code == 400 and fault_code(response) == "500"
    assert response.json()["Fault"]["Error"][0]["element"] == "Operation"


def test_delete_transaction_returns_stub_and_read_is_610(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    response = client.post(f"{client.company()}/invoice", params={"operation": "delete"}, json=_ident(invoice))
    assert response.json()["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": invoice["Id"]}
    gone = client.get(f"{client.company()}/invoice/{invoice['Id']}")
    assert gone.status_code == 400 and fault_code(gone) == "610"
    again = client.post(f"{client.company()}/invoice", params={"operation": "delete"}, json=_ident(invoice))
    assert fault_code(again) == "610"


def test_name_lists_are_deactivated_not_deleted(client: InProcessClient) -> None:
    refused = client.post(f"{client.company()}/customer", params={"operation": "delete"},
                          json={"Id": "53", "SyncToken": "0"})
    assert fault_code(refused) == "500"
    inactive = client.create("Customer", {"Id": "53", "SyncToken": "0", "sparse": True, "Active": False})
    assert inactive.json()["Customer"]["Active"] is False
    assert client.get(f"{client.company()}/customer/53").json()["Customer"]["Active"] is False


def test_us_invoice_void_and_delete(client: InProcessClient) -> None:
    invoice = client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 50, "SalesItemLineDetail": {"ItemRef": {"value": "60"}}}]},
        realm_id=US).json()["Invoice"]
    url = f"{client.company(US)}/invoice"
    voided = client.post(url, params={"operation": "void"}, json=_ident(invoice)).json()["Invoice"]
    deleted = client.post(url, params={"operation": "delete"}, json=_ident(voided)).json()["Invoice"]
    assert deleted["status"] == "Deleted"
