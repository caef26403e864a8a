"""The entities added for third-party clients, over real HTTP: query with paging, read, create, update, delete,
void where QBO allows, their computed totals and their links; entities the sandbox lacks query empty; the
discount preference."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sandbox import ManualClock, Sandbox, serve
from connectors.sandbox.testing import TEST_TOKEN, test_config
from tests.connectors.sandbox import entity_payloads as pay
from tests.connectors.sandbox.helpers import FR

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json"}
_numbers = itertools.count(1)


class Api:
    """A thin client of one served realm."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/v3/company/{FR}"

    def post(self, entity: str, body: dict[str, Any], **params: str) -> httpx.Response:
        return httpx.post(f"{self.url}/{entity.lower()}", json=body, headers=HEADERS,
                          params={"minorversion": "75", **params})

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.post(entity, body)
        assert answer.status_code == 200, answer.text
        created: dict[str, Any] = answer.json()[entity]
        return created

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/{entity.lower()}/{entity_id}", headers=HEADERS)
        assert answer.status_code == 200, answer.text
        row: dict[str, Any] = answer.json()[entity]
        return row

    def query(self, text: str) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/query", content=text.encode(),
                            headers={**HEADERS, "Content-Type": "application/text"})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["QueryResponse"]
        return result

    def stub(self, entity: str, entity_id: str) -> dict[str, Any]:
        row = self.read(entity, entity_id)
        return {"Id": row["Id"], "SyncToken": row["SyncToken"]}


def code(answer: httpx.Response) -> str:
    return str(answer.json()["Fault"]["Error"][0]["code"])


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    state = Sandbox(test_config(requests_per_minute=100_000, max_concurrent=100))
    with serve(state) as base:
        yield state, base
    state.close()


@pytest.fixture
def api(served: tuple[Sandbox, str]) -> Api:
    return Api(served[1])


@pytest.mark.parametrize("entity", sorted(pay.TRANSACTIONS))
def test_create_read_update_delete(api: Api, entity: str) -> None:
    build, total, field = pay.TRANSACTIONS[entity]
    created = api.create(entity, build(str(next(_numbers))))
    assert created["SyncToken"] == "0" and created[field] == total
    assert api.read(entity, created["Id"]) == created
    updated = api.create(entity, {**api.stub(entity, created["Id"]), "sparse": True, "PrivateNote": "revu"}) \
        if entity != "TimeActivity" else api.create(entity, {**api.stub(entity, created["Id"]), "sparse": True,
                                                             "Description": "revu"})
    assert updated["SyncToken"] == "1" and updated[field] == total
    assert updated.get("PrivateNote", updated.get("Description")) == "revu"
    deleted = api.post(entity, api.stub(entity, created["Id"]), operation="delete")
    assert deleted.json()[entity] == {"status": "Deleted", "domain": "QBO", "Id": created["Id"]}
    assert code(httpx.get(f"{api.url}/{entity.lower()}/{created['Id']}", headers=HEADERS)) == "610"


@pytest.mark.parametrize("entity", sorted(pay.TRANSACTIONS))
@pytest.mark.parametrize("params", [{"operation": "void"}, {"operation": "update", "include": "void"}],
                         ids=["operation-void", "include-void"])
def test_void_is_not_offered_for_the_added_entities(api: Api, entity: str, params: dict[str, str]) -> None:
    created = api.create(entity, pay.TRANSACTIONS[entity][0](str(next(_numbers))))
    answer = api.post(entity, {**api.stub(entity, created["Id"]), "sparse": True}, **params)
    assert answer.status_code == 400 and code(answer) == "500"


def test_query_pages_through_estimates(api: Api) -> None:
    for _ in range(5):
        api.create("Estimate", pay.estimate(f"PG-{next(_numbers)}"))
    total = api.query("select count(*) from Estimate")["totalCount"]
    pages = [api.query(f"select * from Estimate orderby Id startposition {start} maxresults 2")
             for start in range(1, total + 1, 2)]
    ids = [row["Id"] for page in pages for row in page["Estimate"]]
    assert len(ids) == total == len(set(ids)) and total >= 5
    assert pages[0]["maxResults"] == 2


def test_estimate_becomes_an_invoice(api: Api) -> None:
    estimate = api.create("Estimate", pay.estimate(f"EST-{next(_numbers)}"))
    assert (estimate["TotalAmt"], estimate["TxnStatus"], estimate["LinkedTxn"]) == (240, "Pending", [])
    invoice = api.create("Invoice", {**pay.estimate(f"F-{next(_numbers)}"),
                                     "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]})
    assert invoice["LinkedTxn"] == [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]
    closed = api.read("Estimate", estimate["Id"])
    assert closed["TxnStatus"] == "Closed" and closed["SyncToken"] == "1"
    assert closed["LinkedTxn"] == [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    other = api.post("Invoice", {**pay.estimate(f"F-{next(_numbers)}", customer="53"),
                                 "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]})
    assert code(other) == "620"  # another customer's estimate
    assert code(api.post("Estimate", api.stub("Estimate", estimate["Id"]), operation="delete")) == "6000"
    api.post("Invoice", api.stub("Invoice", invoice["Id"]), operation="delete")
    reopened = api.read("Estimate", estimate["Id"])
    assert (reopened["TxnStatus"], reopened["LinkedTxn"]) == ("Pending", [])


def test_purchase_order_becomes_a_bill(api: Api) -> None:
    order = api.create("PurchaseOrder", pay.purchase_order(f"PO-{next(_numbers)}"))
    assert (order["POStatus"], order["TotalAmt"]) == ("Open", 96)
    bill = api.create("Bill", {**pay.vendor_credit(80), "LinkedTxn": [{"TxnId": order["Id"],
                                                                     "TxnType": "PurchaseOrder"}]})
    assert bill["LinkedTxn"] == [{"TxnId": order["Id"], "TxnType": "PurchaseOrder"}]
    assert api.read("PurchaseOrder", order["Id"])["POStatus"] == "Closed"


def test_vendor_credit_applied_in_a_bill_payment(api: Api) -> None:
    bill = api.create("Bill", pay.vendor_credit(100))  # 120 with VAT
    credit = api.create("VendorCredit", pay.vendor_credit(25))  # 30 with VAT
    assert (credit["TotalAmt"], credit["Balance"]) == (30, 30)
    payment = api.create("BillPayment", {
        "VendorRef": {"value": "56"}, "PayType": "Check", "CheckPayment": {"BankAccountRef": {"value": "1"}},
        "TotalAmt": 90, "Line": [{"Amount": 120, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]},
                                 {"Amount": 30, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]}]})
    assert api.read("Bill", bill["Id"])["Balance"] == 0
    applied = api.read("VendorCredit", credit["Id"])
    assert applied["Balance"] == 0
    assert applied["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPayment"}]
    too_much = api.create("VendorCredit", pay.vendor_credit(5))
    over = api.post("BillPayment", {
        "VendorRef": {"value": "56"}, "PayType": "Check", "CheckPayment": {"BankAccountRef": {"value": "1"}},
        "TotalAmt": 0, "Line": [{"Amount": 7, "LinkedTxn": [{"TxnId": too_much["Id"], "TxnType": "VendorCredit"}]}]})
    assert code(over) == "6000"  # more than the credit's 6
    api.post("BillPayment", api.stub("BillPayment", payment["Id"]), operation="delete")
    assert api.read("VendorCredit", credit["Id"])["Balance"] == 30


def test_deposit_of_undeposited_payments(api: Api) -> None:
    first = api.create("Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 100, "PaymentRefNum": "D1"})
    second = api.create("Payment", {"CustomerRef": {"value": "53"}, "TotalAmt": 40, "PaymentRefNum": "D2"})
    deposit = api.create("Deposit", {"DepositToAccountRef": {"value": "1"}, "Line": [
        {"Amount": 100, "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Payment"}]},
        {"Amount": 40, "LinkedTxn": [{"TxnId": second["Id"], "TxnType": "Payment"}]},
        {"Amount": 5, "DetailType": "DepositLineDetail", "DepositLineDetail": {"AccountRef": {"value": "15"}}}],
        "CashBack": {"AccountRef": {"value": "13"}, "Amount": 2}})
    assert deposit["TotalAmt"] == 143
    assert api.read("Payment", first["Id"])["LinkedTxn"] == [{"TxnId": deposit["Id"], "TxnType": "Deposit"}]
    again = api.post("Deposit", {"DepositToAccountRef": {"value": "2"}, "Line": [
        {"Amount": 100, "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Payment"}]}]})
    assert code(again) == "6000"  # already deposited
    change = api.post("Payment", {**api.stub("Payment", first["Id"]), "sparse": True, "PrivateNote": "x"})
    assert code(change) == "6540"
    assert code(api.post("Payment", api.stub("Payment", first["Id"]), operation="delete")) == "6540"
    partial = api.create("Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 10, "PaymentRefNum": "D3"})
    assert code(api.post("Deposit", {"DepositToAccountRef": {"value": "1"}, "Line": [
        {"Amount": 4, "LinkedTxn": [{"TxnId": partial["Id"], "TxnType": "Payment"}]}]})) == "6000"
    api.post("Deposit", api.stub("Deposit", deposit["Id"]), operation="delete")
    assert api.read("Payment", first["Id"])["LinkedTxn"] == []
    assert api.post("Payment", {**api.stub("Payment", first["Id"]), "sparse": True,
                                "PrivateNote": "x"}).status_code == 200


def test_journal_entry_must_balance(api: Api) -> None:
    entry = api.create("JournalEntry", pay.journal_entry(f"JE-{next(_numbers)}", 300, 300))
    assert entry["TotalAmt"] == 300 and [line["Id"] for line in entry["Line"]] == ["1", "2"]
    unbalanced = api.post("JournalEntry", pay.journal_entry(f"JE-{next(_numbers)}", 300, 299))
    assert code(unbalanced) == "6000" and "balance" in unbalanced.json()["Fault"]["Error"][0]["Detail"]
    doc = f"JE-{next(_numbers)}"
    api.create("JournalEntry", pay.journal_entry(doc))
    assert code(api.post("JournalEntry", pay.journal_entry(doc))) == "6140"


def test_transfer_rules(api: Api) -> None:
    assert code(api.post("Transfer", {**pay.transfer(), "ToAccountRef": {"value": "1"}})) == "6000"
    assert code(api.post("Transfer", {**pay.transfer(), "ToAccountRef": {"value": "10"}})) == "6000"  # expense
    assert code(api.post("Transfer", pay.transfer(0))) == "6000"


def test_refund_receipt_and_time_activity_requirements(api: Api) -> None:
    refund = api.create("RefundReceipt", pay.refund_receipt(f"R-{next(_numbers)}"))
    assert (refund["TotalAmt"], refund["Balance"]) == (36.93, 0)
    missing = {key: value for key, value in pay.refund_receipt("R-x").items() if key != "DepositToAccountRef"}
    assert code(api.post("RefundReceipt", missing)) == "2020"
    no_time = {key: value for key, value in pay.time_activity().items() if key not in ("Hours", "Minutes")}
    assert code(api.post("TimeActivity", no_time)) == "2020"
    assert code(api.post("TimeActivity", {**pay.time_activity(), "EmployeeRef": {"value": "999"}})) == "2500"


def test_employee_is_a_name_list(api: Api) -> None:
    employee = api.create("Employee", pay.employee(f"Léa{next(_numbers)}"))
    assert employee["DisplayName"].endswith(" Petit") and employee["Active"] is True
    assert code(api.post("Employee", {"DisplayName": "Boulangerie Martin"})) == "6240"  # a customer's name
    assert code(api.post("Employee", api.stub("Employee", employee["Id"]), operation="delete")) == "500"
    api.create("Employee", {**api.stub("Employee", employee["Id"]), "sparse": True, "Active": False})
    names = [row["Id"] for row in api.query("select * from Employee").get("Employee", [])]
    assert employee["Id"] not in names and "65" in names


def test_budget_is_read_only_and_tax_agency_create_only(api: Api) -> None:
    [budget] = api.query("select * from Budget")["Budget"]
    assert budget["Name"] == "Budget 2025" and len(budget["BudgetDetail"]) == 24
    assert code(api.post("Budget", {"Name": "Nouveau"})) == "500"
    agency = api.create("TaxAgency", pay.tax_agency(f"Agence {next(_numbers)}"))
    assert api.query(f"select * from TaxAgency where Id = '{agency['Id']}'")["TaxAgency"][0]["DisplayName"]
    assert code(api.post("TaxAgency", {**api.stub("TaxAgency", agency["Id"]), "sparse": True,
                                       "TaxRegistrationNumber": "X"})) == "500"
    assert api.read("TaxRate", "21")["AgencyRef"]["value"] == "20" and api.read("TaxAgency", "20")


@pytest.mark.parametrize("entity", ["JournalCode", "CustomerType", "RecurringTransaction", "taxpayment"])
def test_an_entity_the_sandbox_lacks_queries_empty(api: Api, entity: str) -> None:
    assert api.query(f"select * from {entity}") == {}
    assert api.query(f"select count(*) from {entity}") == {"totalCount": 0}


def test_an_entity_qbo_does_not_have_is_still_a_query_error(api: Api) -> None:
    answer = httpx.post(f"{api.url}/query", content=b"select * from Spaceship",
                        headers={**HEADERS, "Content-Type": "application/text"})
    assert code(answer) == "4000"


def test_change_data_capture_of_added_entities(served: tuple[Sandbox, str], api: Api) -> None:
    state, _ = served
    assert isinstance(state.clock, ManualClock)
    since = state.clock.advance(5).isoformat()
    created = api.create("JournalEntry", pay.journal_entry(f"JE-{next(_numbers)}"))
    answer = httpx.get(f"{api.url}/cdc", params={"entities": "JournalEntry,Estimate,JournalCode",
                                                 "changedSince": since}, headers=HEADERS)
    assert code(answer) == "2010"  # JournalCode has no CDC in QBO
    answer = httpx.get(f"{api.url}/cdc", params={"entities": "JournalEntry,Deposit", "changedSince": since},
                       headers=HEADERS)
    responses = answer.json()["CDCResponse"][0]["QueryResponse"]
    assert [row["Id"] for row in responses[0]["JournalEntry"]] == [created["Id"]]
    refused = httpx.get(f"{api.url}/cdc", params={"entities": "TimeActivity", "changedSince": since},
                        headers=HEADERS)
    assert code(refused) == "2010"


def _invoice_with_discount(doc: str) -> dict[str, Any]:
    discount = {"DetailType": "DiscountLineDetail", "Amount": 10,
                "DiscountLineDetail": {"PercentBased": False, "DiscountAccountRef": {"value": "15"}}}
    return {**pay.estimate(doc), "Line": [pay.sales_line(), discount]}


def test_discount_lines_need_the_discount_preference(served: tuple[Sandbox, str], api: Api) -> None:
    state, _ = served
    assert api.create("Invoice", _invoice_with_discount(f"DSC-{next(_numbers)}"))["TotalAmt"] == 230
    prefs = state.read(FR, "Preferences", "1")
    off = {"SyncToken": prefs["SyncToken"], "SalesFormsPrefs": {"AllowDiscount": False}}
    assert httpx.post(f"{api.url}/preferences", json=off, headers=HEADERS).status_code == 200
    try:
        refused = api.post("Invoice", _invoice_with_discount(f"DSC-{next(_numbers)}"))
        assert code(refused) == "6000" and "Discounts" in refused.json()["Fault"]["Error"][0]["Detail"]
        assert api.post("Estimate", _invoice_with_discount(f"DSC-{next(_numbers)}")).status_code == 400
        assert api.post("Invoice", pay.estimate(f"DSC-{next(_numbers)}")).status_code == 200  # no discount: fine
    finally:
        prefs = state.read(FR, "Preferences", "1")
        on = {"SyncToken": prefs["SyncToken"], "SalesFormsPrefs": {"AllowDiscount": True}}
        httpx.post(f"{api.url}/preferences", json=on, headers=HEADERS)
