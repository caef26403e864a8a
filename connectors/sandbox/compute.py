"""Server-side computations on transactions: line ids and amounts, subtotal line, tax, TotalAmt.

QBO owns these numbers: ``Amount = Qty x UnitPrice`` when both are given, ``TotalAmt`` = lines -
discounts + tax, and a read-only SubTotalLine is appended to sales forms. Balances that depend on
linked payments are set afterwards by :mod:`connectors.sandbox.links`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.sandbox.bank_forms import BANK_COMPUTERS
from connectors.sandbox.errors import QboError
from connectors.sandbox.jsonio import money, to_decimal
from connectors.sandbox.store import RealmState
from connectors.sandbox.tax import TaxableLine, compute_tax, line_rate_total

__all__ = ["COMPUTERS", "EXPENSE_FORMS", "LINKING_FORMS", "SALES_FORMS", "compute"]

SALES_FORMS = frozenset({"Invoice", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt"})
EXPENSE_FORMS = frozenset({"Bill", "Purchase", "VendorCredit", "PurchaseOrder"})
_SETTLED = frozenset({"SalesReceipt", "RefundReceipt"})  # paid on the spot: Balance 0
LINKING_FORMS = frozenset({"Payment", "BillPayment"})
_SALES_DETAILS = frozenset({"SalesItemLineDetail", "DiscountLineDetail", "SubTotalLineDetail", "DescriptionOnly"})
_EXPENSE_DETAILS = frozenset({"AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"})


def _assign_ids(lines: Sequence[dict[str, Any]], previous: Sequence[Mapping[str, Any]]) -> None:
    """Keep the Id of a line that matches one of the previous version; number the others after the max."""
    known = {str(line.get("Id")) for line in previous if line.get("Id") is not None}
    numbers = [int(i) for i in known if i.isdigit()]
    next_id = max(numbers, default=0) + 1
    used: set[str] = set()
    for line in lines:
        line_id = str(line.get("Id")) if line.get("Id") is not None else None
        if line_id is None or line_id not in known or line_id in used:
            line_id = str(next_id)
            next_id += 1
        used.add(line_id)
        line["Id"] = line_id


def _priced_amount(line: Mapping[str, Any], detail: dict[str, Any], element: str,
                   inclusive_rate: Decimal | None) -> Decimal:
    """Amount from Qty x UnitPrice, from a tax-inclusive amount, or as sent; 6000 when they disagree."""
    qty = to_decimal(detail["Qty"], f"{element}.Qty") if "Qty" in detail else Decimal(0)
    price = to_decimal(detail["UnitPrice"], f"{element}.UnitPrice") if "UnitPrice" in detail else Decimal(0)
    sent = money(to_decimal(line["Amount"], "Line.Amount")) if "Amount" in line else None
    if inclusive_rate is not None and "TaxInclusiveAmt" in detail and sent is None:
        gross = to_decimal(detail["TaxInclusiveAmt"], f"{element}.TaxInclusiveAmt")
        return money(gross / (1 + inclusive_rate / 100))
    if qty and price:
        computed = money(qty * price)
        if sent is not None and sent != computed:
            raise QboError("6000", f"Business Validation Error: Amount is not equal to UnitPrice * Qty. "
                                   f"Supplied value:{sent}", "Line.Amount")
        return computed
    if sent is None:
        raise QboError("2020", "Required parameter Line.Amount is missing in the request", "Line.Amount")
    return sent


def _detail_of(line: dict[str, Any], allowed: frozenset[str]) -> tuple[str, dict[str, Any]]:
    detail_type = line.get("DetailType")
    if not detail_type:
        raise QboError("2020", "Required parameter Line.DetailType is missing in the request", "Line.DetailType")
    if detail_type not in allowed:
        raise QboError("2170", f"Invalid Enumeration : {detail_type}", "Line.DetailType")
    detail = line.get(detail_type)
    if detail is None and detail_type not in ("DescriptionOnly", "SubTotalLineDetail"):
        raise QboError("2020", f"Required parameter Line.{detail_type} is missing in the request",
                       f"Line.{detail_type}")
    detail = dict(detail or {})
    line[detail_type] = detail
    return detail_type, detail


def _tax_code(detail: Mapping[str, Any]) -> str | None:
    ref = detail.get("TaxCodeRef")
    return str(ref["value"]) if isinstance(ref, dict) and ref.get("value") is not None else None


def _inclusive_rate(realm: RealmState, payload: Mapping[str, Any], code: str | None, purchase: bool
                    ) -> Decimal | None:
    if payload.get("GlobalTaxCalculation") != "TaxInclusive" or code is None or realm.get("TaxCode", code) is None:
        return None
    return line_rate_total(realm, code, purchase)


def _check_discounts_allowed(realm: RealmState) -> None:
    """A discount line needs ``Preferences.SalesFormsPrefs.AllowDiscount`` (6000 otherwise, as in QBO)."""
    if realm.preference("SalesFormsPrefs", "AllowDiscount", False) is not True:
        raise QboError("6000", "Business Validation Error: Discounts are turned off for this company. Turn on "
                               "discounts in Account and Settings, or remove the discount line.",
                       "Line.DiscountLineDetail")


def _default_us_code(realm: RealmState, detail: dict[str, Any]) -> None:
    if realm.country == "US" and "TaxCodeRef" not in detail:
        item = realm.get("Item", str((detail.get("ItemRef") or {}).get("value")))
        detail["TaxCodeRef"] = {"value": "TAX" if item and item.get("Taxable") else "NON"}


def _sales(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    lines = [dict(line) for line in payload.get("Line", []) if line.get("DetailType") != "SubTotalLineDetail"]
    taxable: list[TaxableLine] = []
    subtotal = discount = Decimal(0)
    for position, line in enumerate(lines, start=1):
        detail_type, detail = _detail_of(line, _SALES_DETAILS)
        element = f"Line.{detail_type}"
        line["LineNum"] = position
        if detail_type == "SalesItemLineDetail":
            if "ItemRef" not in detail:  # documentation-only line: QBO ignores its amount
                line["Amount"] = Decimal(0)
                continue
            _default_us_code(realm, detail)
            code = _tax_code(detail)
            amount = _priced_amount(line, detail, element, _inclusive_rate(realm, payload, code, False))
            line["Amount"] = amount
            subtotal += amount
            taxable.append(TaxableLine(amount, code, element))
        elif detail_type == "DiscountLineDetail":
            _check_discounts_allowed(realm)
            if detail.get("PercentBased") and "DiscountPercent" in detail:
                percent = to_decimal(detail["DiscountPercent"], f"{element}.DiscountPercent")
                line["Amount"] = money(subtotal * percent / 100)
            elif "Amount" in line:
                line["Amount"] = money(to_decimal(line["Amount"], "Line.Amount"))
            else:
                raise QboError("2020", "Required parameter Line.Amount is missing in the request", "Line.Amount")
            discount += line["Amount"]
        else:
            line.pop("Amount", None)
    _assign_ids(lines, previous.get("Line") or ())
    tax = compute_tax(realm, taxable, purchase=False, header=payload.get("TxnTaxDetail"),
                      calculation=payload.get("GlobalTaxCalculation"))
    lines.append({"Amount": money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    payload["Line"] = lines
    payload["TxnTaxDetail"] = tax
    payload["TotalAmt"] = money(subtotal - discount + tax["TotalTax"])
    if entity in _SETTLED:
        payload["Balance"] = Decimal(0)


def _expense(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    lines = [dict(line) for line in payload.get("Line", [])]
    taxable: list[TaxableLine] = []
    total = Decimal(0)
    for line in lines:
        detail_type, detail = _detail_of(line, _EXPENSE_DETAILS)
        element = f"Line.{detail_type}"
        code = _tax_code(detail)
        if detail_type == "AccountBasedExpenseLineDetail" and "AccountRef" not in detail:
            raise QboError("2020", f"Required parameter {element}.AccountRef is missing in the request",
                           f"{element}.AccountRef")
        if detail_type == "ItemBasedExpenseLineDetail" and "ItemRef" not in detail:
            raise QboError("2020", f"Required parameter {element}.ItemRef is missing in the request",
                           f"{element}.ItemRef")
        amount = _priced_amount(line, detail, element, _inclusive_rate(realm, payload, code, True))
        line["Amount"] = amount
        total += amount
        taxable.append(TaxableLine(amount, code, element))
    _assign_ids(lines, previous.get("Line") or ())
    tax = compute_tax(realm, taxable, purchase=True, header=payload.get("TxnTaxDetail"),
                      calculation=payload.get("GlobalTaxCalculation"))
    payload["Line"] = lines
    payload["TxnTaxDetail"] = tax
    payload["TotalAmt"] = money(total + tax["TotalTax"])


def _linking(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    lines = []
    for line in payload.get("Line", []):
        if "Amount" not in line:
            raise QboError("2020", "Required parameter Line.Amount is missing in the request", "Line.Amount")
        links = line.get("LinkedTxn")
        if not isinstance(links, list) or not links:
            raise QboError("2020", "Required parameter Line.LinkedTxn is missing in the request", "Line.LinkedTxn")
        linked = [{**link, "TxnId": str(link.get("TxnId"))} for link in links]
        lines.append({**line, "Amount": money(to_decimal(line["Amount"], "Line.Amount")), "LinkedTxn": linked})
    payload["Line"] = lines
    payload["TotalAmt"] = money(to_decimal(payload.get("TotalAmt", 0), "TotalAmt"))


Computer = Callable[[RealmState, str, dict[str, Any], Mapping[str, Any]], None]
COMPUTERS: Mapping[str, Computer] = {
    **dict.fromkeys(SALES_FORMS, _sales), **dict.fromkeys(EXPENSE_FORMS, _expense),
    **dict.fromkeys(LINKING_FORMS, _linking), **BANK_COMPUTERS,
}


def compute(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    computer = COMPUTERS.get(entity)
    if computer is not None:
        computer(realm, entity, payload, previous)
