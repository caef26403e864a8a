"""Payloads and small helpers shared by the connector tests."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import DEFAULT_REALM_IDS

FR = DEFAULT_REALM_IDS["fr"]
US = DEFAULT_REALM_IDS["us"]


def fr_invoice(doc: str = "F1001", customer: str = "52", **extra: Any) -> dict[str, Any]:
    """A French invoice: 2 x 150 at 20 % VAT and 35 at 5.5 %."""
    return {
        "CustomerRef": {"value": customer}, "DocNumber": doc, "GlobalTaxCalculation": "TaxExcluded",
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 300, "SalesItemLineDetail": {
                "ItemRef": {"value": "60"}, "Qty": 2, "UnitPrice": 150, "TaxCodeRef": {"value": "31"}}},
            {"DetailType": "SalesItemLineDetail", "Amount": 35, "SalesItemLineDetail": {
                "ItemRef": {"value": "62"}, "TaxCodeRef": {"value": "33"}}},
        ],
        **extra,
    }


def fr_bill(vendor: str = "56", amount: float = 100, **extra: Any) -> dict[str, Any]:
    return {"VendorRef": {"value": vendor}, "GlobalTaxCalculation": "TaxExcluded", "Line": [
        {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount, "AccountBasedExpenseLineDetail": {
            "AccountRef": {"value": "10"}, "TaxCodeRef": {"value": "31"}}}], **extra}


def count(sandbox: Any, entity: str, realm_id: str = FR) -> int:
    return int(sandbox.query(realm_id, f"select count(*) from {entity}")["totalCount"])
