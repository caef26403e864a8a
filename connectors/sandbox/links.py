"""Payments linked to invoices (and credit memos), bill payments linked to bills, and the balances they move.

Balances are always derived from the live linking documents, so deleting or voiding a payment
restores what it had paid. A document whose Balance or LinkedTxn changes gets a new SyncToken and
LastUpdatedTime, as in QBO, so a client holding the old token must re-read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.jsonio import money, to_decimal
from connectors.sandbox.store import RealmState

__all__ = ["LINKS", "PAYABLE_BY", "LinkRule", "applied_to", "check_links", "check_total_covers_payments",
           "derived_fields", "payers_of", "targets_of"]


@dataclass(frozen=True)
class LinkRule:
    """Which documents a linking entity pays, and the party field both must share."""

    party: str
    payable: Mapping[str, int]  # TxnType -> sign of its amount in the applied total


LINKS: Mapping[str, LinkRule] = {
    "Payment": LinkRule("CustomerRef", {"Invoice": 1, "CreditMemo": -1}),
    "BillPayment": LinkRule("VendorRef", {"Bill": 1}),
}
PAYABLE_BY: Mapping[str, str] = {"Invoice": "Payment", "CreditMemo": "Payment", "Bill": "BillPayment"}


def targets_of(payload: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """(TxnType, TxnId) of every document a payment payload links to."""
    found: set[tuple[str, str]] = set()
    for line in (payload or {}).get("Line") or ():
        for link in line.get("LinkedTxn") or ():
            found.add((str(link.get("TxnType")), str(link.get("TxnId"))))
    return found


def applied_to(realm: RealmState, txn_type: str, txn_id: str, exclude: str | None = None
               ) -> tuple[Decimal, list[str]]:
    """Amount applied to one document by live linking documents, and their ids."""
    payer = PAYABLE_BY.get(txn_type)
    total = Decimal(0)
    payers: list[str] = []
    if payer is None:
        return total, payers
    for row in realm.rows(payer):
        if row["Id"] == exclude or row.get("_voided"):
            continue
        for line in row.get("Line") or ():
            for link in line.get("LinkedTxn") or ():
                if link.get("TxnType") == txn_type and str(link.get("TxnId")) == txn_id:
                    total += to_decimal(line.get("Amount", 0))
                    if row["Id"] not in payers:
                        payers.append(row["Id"])
    return total, payers


def check_links(realm: RealmState, entity: str, payload: dict[str, Any], own_id: str | None) -> None:
    """Validate a Payment/BillPayment's links and set its UnappliedAmt; faults 610/620/6000."""
    rule = LINKS[entity]
    party = str((payload.get(rule.party) or {}).get("value"))
    applied = Decimal(0)
    for line in payload.get("Line") or ():
        links = line.get("LinkedTxn") or []
        if len(links) != 1:
            raise QboError("6000", "Business Validation Error: each payment line must link exactly one "
                                   "transaction", "Line.LinkedTxn")
        link = links[0]
        txn_type, txn_id = str(link.get("TxnType")), str(link.get("TxnId"))
        if txn_type not in rule.payable:
            raise QboError("620", f"TxnID Cannot Be Linked : {txn_type} cannot be linked to a {entity}",
                           "Line.LinkedTxn.TxnType")
        target = realm.get(txn_type, txn_id)
        if target is None:
            raise QboError("610", f"Object Not Found : {txn_type} {txn_id} does not exist or has been deleted",
                           "Line.LinkedTxn.TxnId")
        if str((target.get(rule.party) or {}).get("value")) != party:
            raise QboError("620", f"TxnID Cannot Be Linked : {txn_type} {txn_id} belongs to another "
                                  f"{rule.party[:-3].lower()}", "Line.LinkedTxn.TxnId")
        if target.get("_voided"):
            raise QboError("6000", f"Business Validation Error: {txn_type} {txn_id} is void", "Line.LinkedTxn")
        amount = to_decimal(line["Amount"])
        paid_elsewhere, _ = applied_to(realm, txn_type, txn_id, exclude=own_id)
        if amount > to_decimal(target.get("TotalAmt", 0)) - paid_elsewhere:
            raise QboError("6000", f"Business Validation Error: the amount applied to {txn_type} {txn_id} "
                                   "is more than its open balance", "Line.Amount")
        applied += amount * rule.payable[txn_type]
    total = to_decimal(payload.get("TotalAmt", 0))
    if applied > total:
        raise QboError("6000", "Business Validation Error: the amounts applied are more than the payment's "
                               "TotalAmt", "TotalAmt")
    if entity == "Payment":
        payload["UnappliedAmt"] = money(total - applied)


def derived_fields(realm: RealmState, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Balance-like fields and LinkedTxn a payable document should show now."""
    if entity not in PAYABLE_BY:
        return {}
    payers: list[str] = []
    if row.get("_voided"):
        open_amount = Decimal(0)
    else:
        paid, payers = applied_to(realm, entity, row["Id"])
        open_amount = money(to_decimal(row.get("TotalAmt", 0)) - paid)
    payer = PAYABLE_BY[entity]
    fields: dict[str, Any] = {"Balance": open_amount,
                              "LinkedTxn": [{"TxnId": pid, "TxnType": payer} for pid in payers]}
    if entity == "CreditMemo":
        fields["RemainingCredit"] = open_amount
    return fields


def check_total_covers_payments(realm: RealmState, entity: str, payload: Mapping[str, Any], own_id: str) -> None:
    """An update may not bring a document's total below what is already paid on it."""
    if entity not in PAYABLE_BY:
        return
    paid, _ = applied_to(realm, entity, own_id)
    if paid > to_decimal(payload.get("TotalAmt", 0)):
        raise QboError("6000", f"Business Validation Error: {entity} {own_id} has payments of {paid} linked; "
                               "its total cannot be lower", "TotalAmt")


def payers_of(realm: RealmState, entity: str, own_id: str) -> list[str]:
    _, payers = applied_to(realm, entity, own_id)
    return payers
