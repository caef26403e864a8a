"""Line amounts, subtotal line, VAT (FR) and sales tax (US), TotalAmt."""

from __future__ import annotations

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import US, fault_code, fr_bill, fr_invoice


def test_fr_invoice_amounts_vat_and_total(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    lines = invoice["Line"]
    assert [line["Amount"] for line in lines] == [300, 35, 335]  # 2 x 150, 35, subtotal
    assert lines[-1]["DetailType"] == "SubTotalLineDetail"
    assert [line["Id"] for line in lines[:2]] == ["1", "2"] and lines[1]["LineNum"] == 2
    tax = invoice["TxnTaxDetail"]
    assert tax["TotalTax"] == 61.93  # 300 x 20 % + 35 x 5.5 % = 60 + 1.925 (rounded per rate)
    by_rate = {t["TaxLineDetail"]["TaxRateRef"]["value"]: t for t in tax["TaxLine"]}
    assert by_rate["21"]["Amount"] == 60 and by_rate["21"]["TaxLineDetail"]["NetAmountTaxable"] == 300
    assert by_rate["25"]["TaxLineDetail"]["TaxPercent"] == 5.5
    assert invoice["TotalAmt"] == 396.93 and invoice["Balance"] == 396.93


def test_fr_line_without_vat_code_is_refused(client: InProcessClient) -> None:
    payload = fr_invoice()
    del payload["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]
    response = client.create("Invoice", payload)
    assert fault_code(response) == "6000" and "VAT" in response.json()["Fault"]["Error"][0]["Detail"]


def test_fr_requires_global_tax_calculation(client: InProcessClient) -> None:
    payload = fr_invoice()
    del payload["GlobalTaxCalculation"]
    assert fault_code(client.create("Invoice", payload)) == "2020"


def test_amount_must_match_qty_times_unit_price(client: InProcessClient) -> None:
    payload = fr_invoice()
    payload["Line"][0]["Amount"] = 299
    assert fault_code(client.create("Invoice", payload)) == "6000"
    payload["Line"][0]["Amount"] = 300
    assert client.create("Invoice", payload).json()["Invoice"]["TotalAmt"] == 396.93


def test_tax_inclusive_lines_are_split(client: InProcessClient) -> None:
    payload = fr_invoice(GlobalTaxCalculation="TaxInclusive")
    payload["Line"] = [{"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {
        "ItemRef": {"value": "60"}, "TaxInclusiveAmt": 120, "TaxCodeRef": {"value": "31"}}}]
    invoice = client.create("Invoice", payload).json()["Invoice"]
    assert invoice["Line"][0]["Amount"] == 100
    assert invoice["TxnTaxDetail"]["TotalTax"] == 20 and invoice["TotalAmt"] == 120


def test_discount_line_and_description_only(client: InProcessClient) -> None:
    payload = fr_invoice()
    payload["Line"] = [payload["Line"][0],
                       {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": True,
                                                                                  "DiscountPercent": 10}},
                       {"DetailType": "DescriptionOnly", "Description": "Merci", "Amount": 999}]
    invoice = client.create("Invoice", payload).json()["Invoice"]
    assert invoice["Line"][1]["Amount"] == 30
    assert "Amount" not in invoice["Line"][2]
    assert invoice["TotalAmt"] == 300 - 30 + 60  # tax on the undiscounted lines


def test_fr_bill_purchase_vat(client: InProcessClient) -> None:
    bill = client.create("Bill", fr_bill(amount=250)).json()["Bill"]
    assert bill["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["TaxRateRef"]["value"] == "22"  # deductible
    assert bill["TotalAmt"] == 300 and bill["Balance"] == 300
    purchase = client.create("Purchase", {"PaymentType": "Cash", "AccountRef": {"value": "1"},
                                          "GlobalTaxCalculation": "TaxExcluded", "Line": [
        {"DetailType": "ItemBasedExpenseLineDetail", "ItemBasedExpenseLineDetail": {
            "ItemRef": {"value": "62"}, "Qty": 3, "UnitPrice": 10, "TaxCodeRef": {"value": "33"}}}]}).json()
    assert purchase["Purchase"]["TotalAmt"] == 31.65  # 30 + 5.5 %


def test_purchase_account_must_fit_payment_type(client: InProcessClient) -> None:
    response = client.create("Purchase", {"PaymentType": "CreditCard", "AccountRef": {"value": "1"},
                                          "GlobalTaxCalculation": "TaxExcluded", "Line": fr_bill()["Line"]})
    assert fault_code(response) == "6000"


def test_us_sales_tax_from_header_code(client: InProcessClient) -> None:
    invoice = client.create("Invoice", {
        "CustomerRef": {"value": "52"}, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "31"}},
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 200, "SalesItemLineDetail": {
                "ItemRef": {"value": "63"}, "TaxCodeRef": {"value": "TAX"}}},
            {"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": {
                "ItemRef": {"value": "60"}}},
        ]}, realm_id=US).json()["Invoice"]
    assert invoice["Line"][1]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "NON"  # item not taxable
    assert invoice["TxnTaxDetail"]["TotalTax"] == 17.25  # 200 x (7.25 % + 1.375 %)
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "31"
    assert invoice["TotalAmt"] == 317.25
    assert invoice["CurrencyRef"]["value"] == "USD" and invoice["DocNumber"] == "1001"


def test_us_line_with_a_real_tax_code_is_refused(client: InProcessClient) -> None:
    response = client.create("Invoice", {"CustomerRef": {"value": "52"}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 1, "SalesItemLineDetail": {
            "ItemRef": {"value": "63"}, "TaxCodeRef": {"value": "31"}}}]}, realm_id=US)
    assert fault_code(response) == "2500"


def test_due_date_from_terms_and_foreign_currency_refused(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice(TxnDate="2025-01-10", SalesTermRef={"value": "46"})).json()
    assert invoice["Invoice"]["DueDate"] == "2025-02-09"
    usd = client.create("Invoice", fr_invoice(doc="F2", CurrencyRef={"value": "USD"}))
    assert fault_code(usd) == "6000"
