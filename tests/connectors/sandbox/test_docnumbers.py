"""DocNumber: duplicates (6140), length 21, the custom-transaction-numbers preference, FR requirement."""

from __future__ import annotations

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import US, fault_code, fr_bill, fr_invoice


def test_duplicate_docnumber_is_6140_across_sales_forms(client: InProcessClient) -> None:
    first = client.create("Invoice", fr_invoice(doc="F1001")).json()["Invoice"]
    duplicate = client.create("Invoice", fr_invoice(doc="f1001"))
    assert duplicate.status_code == 400 and fault_code(duplicate) == "6140"
    assert f"TxnId={first['Id']}" in duplicate.json()["Fault"]["Error"][0]["Detail"]
    assert fault_code(client.create("CreditMemo", fr_invoice(doc="F1001"))) == "6140"


def test_allowduplicatedocnum_lifts_the_check(client: InProcessClient) -> None:
    client.create("Invoice", fr_invoice(doc="F1001"))
    allowed = client.create("Invoice", fr_invoice(doc="F1001"), params={"include": "allowduplicatedocnum"})
    assert allowed.status_code == 200


def test_update_may_keep_its_own_number_and_deleted_numbers_are_free(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice(doc="F1001")).json()["Invoice"]
    same = client.create("Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "DocNumber": "F1001"})
    assert same.status_code == 200
    client.post(f"{client.company()}/invoice", params={"operation": "delete"},
                json={"Id": invoice["Id"], "SyncToken": "1"})
    assert client.create("Invoice", fr_invoice(doc="F1001")).status_code == 200


def test_docnumber_longer_than_21_is_2050(client: InProcessClient) -> None:
    response = client.create("Invoice", fr_invoice(doc="X" * 22))
    assert fault_code(response) == "2050" and response.json()["Fault"]["Error"][0]["element"] == "DocNumber"
    assert client.create("Invoice", fr_invoice(doc="X" * 21)).status_code == 200


def test_fr_custom_numbers_require_a_docnumber(client: InProcessClient) -> None:
    payload = fr_invoice()
    del payload["DocNumber"]
    assert fault_code(client.create("Invoice", payload)) == "2020"


def test_automatic_numbers_when_custom_numbers_are_off(client: InProcessClient) -> None:
    line = [{"DetailType": "SalesItemLineDetail", "Amount": 5, "SalesItemLineDetail": {"ItemRef": {"value": "60"}}}]
    numbers = [client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": line},
                             realm_id=US).json()["Invoice"]["DocNumber"] for _ in range(2)]
    assert numbers == ["1001", "1002"]
    client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": line, "DocNumber": "1003"}, realm_id=US)
    assert client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": line},
                         realm_id=US).json()["Invoice"]["DocNumber"] == "1004"


def test_fr_preference_switched_off_gives_automatic_numbers(client: InProcessClient) -> None:
    client.post(f"{client.company()}/preferences", json={"SyncToken": "0",
                                                        "SalesFormsPrefs": {"CustomTxnNumbers": False}})
    payload = fr_invoice()
    del payload["DocNumber"]
    assert client.create("Invoice", payload).json()["Invoice"]["DocNumber"] == "1001"


def test_bill_numbers_are_unique_among_bills(client: InProcessClient) -> None:
    client.create("Bill", fr_bill(DocNumber="FAC-77"))
    assert fault_code(client.create("Bill", fr_bill(DocNumber="FAC-77"))) == "6140"
    assert client.create("Invoice", fr_invoice(doc="FAC-77")).status_code == 200
