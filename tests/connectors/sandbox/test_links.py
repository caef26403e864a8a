"""Payments and bill payments linked to documents move their Balance; unlinking restores it."""

from __future__ import annotations

from typing import Any

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import fault_code, fr_bill, fr_invoice


def _payment(invoice_id: str, amount: float, total: float | None = None, customer: str = "52") -> dict[str, Any]:
    return {"CustomerRef": {"value": customer}, "TotalAmt": amount if total is None else total,
            "PaymentRefNum": "PE01",
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}


def _read(client: InProcessClient, entity: str, entity_id: str) -> dict[str, Any]:
    row: dict[str, Any] = client.get(f"{client.company()}/{entity.lower()}/{entity_id}",
                                     params={"minorversion": "75"}).json()[entity]
    return row


def test_payment_lowers_invoice_balance_and_bumps_its_synctoken(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    payment = client.create("Payment", _payment(invoice["Id"], 100, total=150)).json()["Payment"]
    assert payment["UnappliedAmt"] == 50
    after = _read(client, "Invoice", invoice["Id"])
    assert after["Balance"] == 296.93 and after["SyncToken"] == "1"
    assert after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    client.create("Payment", _payment(invoice["Id"], 296.93))
    assert _read(client, "Invoice", invoice["Id"])["Balance"] == 0


def test_deleting_or_voiding_a_payment_restores_the_balance(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    payment = client.create("Payment", _payment(invoice["Id"], 96.93)).json()["Payment"]
    assert _read(client, "Invoice", invoice["Id"])["Balance"] == 300
    voided = client.post(f"{client.company()}/payment", params={"operation": "update", "include": "void"},
                         json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True})
    assert voided.json()["Payment"]["TotalAmt"] == 0
    assert _read(client, "Invoice", invoice["Id"])["Balance"] == 396.93
    second = client.create("Payment", _payment(invoice["Id"], 6.93)).json()["Payment"]
    assert _read(client, "Invoice", invoice["Id"])["Balance"] == 390
    client.post(f"{client.company()}/payment", params={"operation": "delete"},
                json={"Id": second["Id"], "SyncToken": second["SyncToken"]})
    restored = _read(client, "Invoice", invoice["Id"])
    assert restored["Balance"] == 396.93 and restored["LinkedTxn"] == []


def test_payment_link_rules(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    assert fault_code(client.create("Payment", _payment(invoice["Id"], 500))) == "6000"  # above balance
    assert fault_code(client.create("Payment", _payment(invoice["Id"], 10, total=5))) == "6000"  # above total
    assert fault_code(client.create("Payment", _payment(invoice["Id"], 10, customer="53"))) == "620"
    assert fault_code(client.create("Payment", _payment("999999", 10))) == "610"


def test_invoice_with_payments_cannot_be_deleted_voided_or_reduced(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    client.create("Payment", _payment(invoice["Id"], 300))
    current = _read(client, "Invoice", invoice["Id"])
    ident = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
    assert fault_code(client.post(f"{client.company()}/invoice", params={"operation": "delete"}, json=ident)) == "6000"
    assert fault_code(client.post(f"{client.company()}/invoice", params={"operation": "void"}, json=ident)) == "6000"
    small = fr_invoice()
    small["Line"] = small["Line"][1:]
    assert fault_code(client.create("Invoice", {**small, **ident})) == "6000"


def test_credit_memo_applied_through_a_payment(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    memo = client.create("CreditMemo", {**fr_invoice(doc="A01"), "Line": fr_invoice()["Line"][1:]}).json()
    memo_id = memo["CreditMemo"]["Id"]
    assert memo["CreditMemo"]["RemainingCredit"] == 36.93
    client.create("Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 60, "PaymentRefNum": "PE02", "Line": [
        {"Amount": 96.93, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
        {"Amount": 36.93, "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]}]})
    assert _read(client, "Invoice", invoice["Id"])["Balance"] == 300
    assert _read(client, "CreditMemo", memo_id)["RemainingCredit"] == 0


def test_bill_payment_lowers_bill_balance(client: InProcessClient) -> None:
    bill = client.create("Bill", fr_bill(amount=100)).json()["Bill"]
    assert bill["Balance"] == 120
    body = {"VendorRef": {"value": "56"}, "PayType": "Check", "TotalAmt": 120,
            "CheckPayment": {"BankAccountRef": {"value": "1"}},
            "Line": [{"Amount": 120, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]}
    paid = client.create("BillPayment", body).json()["BillPayment"]
    assert _read(client, "Bill", bill["Id"])["Balance"] == 0
    voided = client.post(f"{client.company()}/billpayment", params={"operation": "update", "include": "void"},
                         json={"Id": paid["Id"], "SyncToken": paid["SyncToken"], "sparse": True}).json()
    assert voided["BillPayment"]["Line"] == [] and voided["BillPayment"]["TotalAmt"] == 0
    assert _read(client, "Bill", bill["Id"])["Balance"] == 120
    missing_bank = {**body, "CheckPayment": {}}
    assert fault_code(client.create("BillPayment", missing_bank)) == "2020"
