"""Documents linked by other documents, and what the links move:

- payments linked to invoices (and credit memos), bill payments to bills (and vendor credits): balances;
- deposits linked to undeposited payments and sales receipts: the payment shows its deposit and is frozen (6540);
- invoices made from estimates, bills from purchase orders (``LinkedTxn`` on the new document's header): the
  estimate or order shows the document and is closed.

Everything is derived from the live linking documents, so deleting or voiding a payment restores what it had
paid. A document whose Balance, LinkedTxn or status changes gets a new SyncToken and LastUpdatedTime, as in QBO,
so a client holding the old token must re-read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.jsonio import money, to_decimal
from connectors.sandbox.store import RealmState

__all__ = ["CONVERSIONS", "LINKS", "PAYABLE_BY", "Conversion", "LinkRule", "applied_to", "check_changeable",
           "check_links", "check_total_covers_payments", "derived_fields", "payers_of", "sources_from", "targets_of"]


@dataclass(frozen=True)
class LinkRule:
    """Which documents a linking entity pays, and the party field both must share."""

    party: str
    payable: Mapping[str, int]  # TxnType -> sign of its amount in the applied total


@dataclass(frozen=True)
class Conversion:
    """A document made from another (an invoice from an estimate): the source's status field and its values."""

    party: str
    status_field: str
    open_status: str
    closed_status: str = "Closed"


LINKS: Mapping[str, LinkRule] = {
    "Payment": LinkRule("CustomerRef", {"Invoice": 1, "CreditMemo": -1}),
    "BillPayment": LinkRule("VendorRef", {"Bill": 1, "VendorCredit": -1}),
}
# Documents whose lines other documents link, and the entity that links them.
PAYABLE_BY: Mapping[str, str] = {"Invoice": "Payment", "CreditMemo": "Payment", "Bill": "BillPayment",
                                 "VendorCredit": "BillPayment", "Payment": "Deposit", "SalesReceipt": "Deposit"}
_BALANCED = frozenset({"Invoice", "CreditMemo", "Bill", "VendorCredit"})  # keep a Balance of what is open
_DEPOSITED = frozenset({"Payment", "SalesReceipt"})
# Entity made -> {source entity: conversion}; the made document keeps its sources in ``_from``.
CONVERSIONS: Mapping[str, Mapping[str, Conversion]] = {
    "Invoice": {"Estimate": Conversion("CustomerRef", "TxnStatus", "Pending")},
    "Bill": {"PurchaseOrder": Conversion("VendorRef", "POStatus", "Open")},
}
_SOURCE_OF: Mapping[str, tuple[str, Conversion]] = {
    source: (made, conversion) for made, sources in CONVERSIONS.items() for source, conversion in sources.items()}


def targets_of(payload: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """(TxnType, TxnId) of every document a payload links to: through its lines, or as its sources."""
    found: set[tuple[str, str]] = set()
    for line in (payload or {}).get("Line") or ():
        for link in line.get("LinkedTxn") or ():
            found.add((str(link.get("TxnType")), str(link.get("TxnId"))))
    for link in (payload or {}).get("_from") or ():
        found.add((str(link["TxnType"]), str(link["TxnId"])))
    return found


def _made_from(realm: RealmState, source: str, source_id: str) -> list[tuple[str, str]]:
    """(entity, id) of the live documents made from one source document."""
    if source not in _SOURCE_OF:
        return []
    made, _ = _SOURCE_OF[source]
    return [(made, row["Id"]) for row in realm.rows(made) if not row.get("_voided")
            and any(link["TxnType"] == source and link["TxnId"] == source_id for link in row.get("_from") or ())]


def sources_from(realm: RealmState, entity: str, body: Mapping[str, Any], own_id: str | None) -> list[dict[str, str]]:
    """The source documents a new or updated document names in its header ``LinkedTxn``; 610/620/6000."""
    allowed = CONVERSIONS.get(entity, {})
    sources: list[dict[str, str]] = []
    for link in body.get("LinkedTxn") or ():
        txn_type, txn_id = str((link or {}).get("TxnType")), str((link or {}).get("TxnId"))
        if txn_type not in allowed:
            continue  # other links (payments) are the server's to show
        source = realm.get(txn_type, txn_id)
        if source is None:
            raise QboError("610", f"Object Not Found : {txn_type} {txn_id} does not exist or has been deleted",
                           "LinkedTxn.TxnId")
        party = allowed[txn_type].party
        if str((source.get(party) or {}).get("value")) != str((body.get(party) or {}).get("value")):
            raise QboError("620", f"TxnID Cannot Be Linked : {txn_type} {txn_id} belongs to another "
                                  f"{party[:-3].lower()}", "LinkedTxn.TxnId")
        if any(made_id != own_id for _, made_id in _made_from(realm, txn_type, txn_id)):
            raise QboError("6000", f"Business Validation Error: {txn_type} {txn_id} is already linked to "
                                   f"another {entity}", "LinkedTxn.TxnId")
        sources.append({"TxnId": txn_id, "TxnType": txn_type})
    return sources


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
    """Balance-like fields, LinkedTxn and status a linked document should show now."""
    if entity in _SOURCE_OF:
        return _source_fields(realm, entity, row)
    sources = list(row.get("_from") or ()) if entity in CONVERSIONS else []
    if entity not in PAYABLE_BY:
        return {"LinkedTxn": sources} if entity in CONVERSIONS else {}
    payers: list[str] = []
    paid = Decimal(0)
    if not row.get("_voided"):
        paid, payers = applied_to(realm, entity, row["Id"])
    payer = PAYABLE_BY[entity]
    fields: dict[str, Any] = {"LinkedTxn": [*sources, *({"TxnId": pid, "TxnType": payer} for pid in payers)]}
    if entity in _BALANCED:
        open_amount = Decimal(0) if row.get("_voided") else money(to_decimal(row.get("TotalAmt", 0)) - paid)
        fields["Balance"] = open_amount
        if entity == "CreditMemo":
            fields["RemainingCredit"] = open_amount
    return fields


def _source_fields(realm: RealmState, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    _, conversion = _SOURCE_OF[entity]
    made = _made_from(realm, entity, row["Id"])
    status = row.get(conversion.status_field) or conversion.open_status
    if made:
        status = conversion.closed_status
    elif row.get("LinkedTxn") and status == conversion.closed_status:  # the document made from it went away
        status = conversion.open_status
    return {"LinkedTxn": [{"TxnId": made_id, "TxnType": made_entity} for made_entity, made_id in made],
            conversion.status_field: status}


def check_changeable(realm: RealmState, entity: str, own_id: str) -> None:
    """A deposited payment or sales receipt cannot be changed, voided or deleted: 6540."""
    if entity in _DEPOSITED and payers_of(realm, entity, own_id):
        raise QboError("6540", "Deposited Transaction cannot be changed : this transaction has been deposited; "
                               "delete the deposit first", "Id")


def check_total_covers_payments(realm: RealmState, entity: str, payload: Mapping[str, Any], own_id: str) -> None:
    """An update may not bring a document's total below what is already paid on it."""
    if entity not in _BALANCED:
        return
    paid, _ = applied_to(realm, entity, own_id)
    if paid > to_decimal(payload.get("TotalAmt", 0)):
        raise QboError("6000", f"Business Validation Error: {entity} {own_id} has payments of {paid} linked; "
                               "its total cannot be lower", "TotalAmt")


def payers_of(realm: RealmState, entity: str, own_id: str) -> list[str]:
    """Ids of the live documents that link this one (payments, deposits, or documents made from it)."""
    _, payers = applied_to(realm, entity, own_id)
    return payers + [made_id for _, made_id in _made_from(realm, entity, own_id)]
