"""DocNumber rules: length, automatic numbering, the FR requirement, and duplicates (6140).

Uniqueness groups: the sales forms (Invoice, SalesReceipt, CreditMemo, RefundReceipt) share one number
space, compared case-insensitively, whatever the preferences say; Estimate, Bill, BillPayment, Purchase,
VendorCredit, PurchaseOrder and JournalEntry each have their own. ``include=allowduplicatedocnum`` lifts
the check, as in QBO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.store import RealmState

__all__ = ["DOC_GROUPS", "apply_doc_number"]

_SALES = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
DOC_GROUPS: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(_SALES, _SALES), "Estimate": ("Estimate",),
    "Bill": ("Bill",), "BillPayment": ("BillPayment",), "Purchase": ("Purchase",), "VendorCredit": ("VendorCredit",),
    "PurchaseOrder": ("PurchaseOrder",), "JournalEntry": ("JournalEntry",),
}
AUTO_NUMBERED = frozenset({*_SALES, "Estimate"})
FIRST_NUMBER = 1001
_TYPE_LABEL = {"CreditMemo": "Credit Memo", "SalesReceipt": "Sales Receipt", "BillPayment": "Bill Payment",
               "RefundReceipt": "Refund Receipt", "VendorCredit": "Vendor Credit", "PurchaseOrder": "Purchase Order",
               "JournalEntry": "Journal Entry"}


def _next_number(realm: RealmState, entity: str) -> str:
    used = {str(row.get("DocNumber", "")).casefold() for name in DOC_GROUPS[entity] for row in realm.rows(name)}
    number = realm.doc_sequences.get(entity, FIRST_NUMBER)
    while str(number).casefold() in used:
        number += 1
    realm.doc_sequences[entity] = number + 1
    return str(number)


def apply_doc_number(realm: RealmState, entity: str, payload: dict[str, Any], own_id: str | None,
                     allow_duplicate: bool) -> None:
    """Fill or check ``payload['DocNumber']`` in place."""
    if entity not in DOC_GROUPS:
        return
    custom = bool(realm.preference("SalesFormsPrefs", "CustomTxnNumbers", False))
    auto = payload.pop("AutoDocNumber", False) is True or payload.get("DocNumber") == "AUTO_GENERATE"
    if entity in AUTO_NUMBERED and (auto or (not custom and not payload.get("DocNumber") and own_id is None)):
        payload["DocNumber"] = _next_number(realm, entity)
        return
    number = payload.get("DocNumber")
    if not number:
        if entity in AUTO_NUMBERED and custom and realm.country == "FR":
            raise QboError("2020", "Required parameter DocNumber is missing in the request", "DocNumber")
        return
    number = str(number)
    payload["DocNumber"] = number
    if len(number) > 21:
        raise QboError("2050", f"String length specified does not match the supported length. Min:0 Max:21 "
                               f"Supplied length:{len(number)}", "DocNumber")
    if allow_duplicate:
        return
    for name in DOC_GROUPS[entity]:
        for row in realm.rows(name):
            if row["Id"] != own_id and str(row.get("DocNumber", "")).casefold() == number.casefold():
                raise QboError("6140", f"Duplicate Document Number Error : You must specify a different number. "
                                       f"This number has already been used. DocNumber={number} is assigned to "
                                       f"TxnType={_TYPE_LABEL.get(name, name)} with TxnId={row['Id']}", "DocNumber")
