"""Minimal valid payloads of the entities added for third-party clients (FR preset ids), shared by the HTTP and
python-quickbooks tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sales_line(qty: int = 2, price: int = 100, item: str = "60", code: str = "31") -> dict[str, Any]:
    return {"DetailType": "SalesItemLineDetail", "Description": "Conseil", "Amount": qty * price,
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price,
                                    "TaxCodeRef": {"value": code}}}


def expense_line(amount: int = 50, account: str = "10", code: str = "31") -> dict[str, Any]:
    return {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount,
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}, "TaxCodeRef": {"value": code}}}


def journal_line(posting: str, amount: int, account: str) -> dict[str, Any]:
    return {"DetailType": "JournalEntryLineDetail", "Amount": amount, "Description": posting,
            "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": {"value": account}}}


def estimate(doc: str, customer: str = "52") -> dict[str, Any]:
    return {"CustomerRef": {"value": customer}, "DocNumber": doc, "GlobalTaxCalculation": "TaxExcluded",
            "Line": [sales_line()]}


def refund_receipt(doc: str) -> dict[str, Any]:
    return {"CustomerRef": {"value": "52"}, "DocNumber": doc, "GlobalTaxCalculation": "TaxExcluded",
            "DepositToAccountRef": {"value": "1"}, "Line": [sales_line(1, 35, "62", "33")]}


def vendor_credit(amount: int = 10) -> dict[str, Any]:
    return {"VendorRef": {"value": "56"}, "GlobalTaxCalculation": "TaxExcluded", "Line": [expense_line(amount)]}


def purchase_order(doc: str) -> dict[str, Any]:
    return {"VendorRef": {"value": "56"}, "DocNumber": doc, "GlobalTaxCalculation": "TaxExcluded",
            "Line": [expense_line(80)]}


def journal_entry(doc: str, debit: int = 100, credit: int = 100) -> dict[str, Any]:
    return {"DocNumber": doc, "Line": [journal_line("Debit", debit, "1"), journal_line("Credit", credit, "17")]}


def deposit(amount: int = 25) -> dict[str, Any]:
    return {"DepositToAccountRef": {"value": "1"}, "Line": [
        {"DetailType": "DepositLineDetail", "Amount": amount, "DepositLineDetail": {"AccountRef": {"value": "15"}}}]}


def transfer(amount: int = 250) -> dict[str, Any]:
    return {"FromAccountRef": {"value": "1"}, "ToAccountRef": {"value": "2"}, "Amount": amount}


def time_activity(hours: int = 3) -> dict[str, Any]:
    return {"NameOf": "Employee", "EmployeeRef": {"value": "65"}, "CustomerRef": {"value": "52"},
            "ItemRef": {"value": "60"}, "Hours": hours, "Minutes": 30, "Description": "Atelier"}


def employee(given: str) -> dict[str, Any]:
    return {"GivenName": given, "FamilyName": "Petit"}


def tax_agency(name: str) -> dict[str, Any]:
    return {"DisplayName": name, "TaxTrackedOnSales": True}


# entity -> (payload builder taking a unique suffix, the computed total it must show, field holding that total)
TRANSACTIONS: dict[str, tuple[Callable[[str], dict[str, Any]], float, str]] = {
    "Estimate": (lambda n: estimate(f"D-{n}"), 240.0, "TotalAmt"),
    "RefundReceipt": (lambda n: refund_receipt(f"R-{n}"), 36.93, "TotalAmt"),
    "VendorCredit": (lambda n: vendor_credit(), 12.0, "TotalAmt"),
    "PurchaseOrder": (lambda n: purchase_order(f"PO-{n}"), 96.0, "TotalAmt"),
    "JournalEntry": (lambda n: journal_entry(f"JE-{n}"), 100.0, "TotalAmt"),
    "Deposit": (lambda n: deposit(), 25.0, "TotalAmt"),
    "Transfer": (lambda n: transfer(), 250.0, "Amount"),
    "TimeActivity": (lambda n: time_activity(), 3.0, "Hours"),
}
