"""DocNumber rules: length, automatic numbering, the FR requirement, and duplicates (6140).

Uniqueness groups: the sales forms (Invoice, SalesReceipt, CreditMemo, RefundReceipt) share one number
space, compared case-insensitively, whatever the preferences say; Estimate, Bill, BillPayment, Purchase,
VendorCredit, PurchaseOrder and JournalEntry each have their own. ``include=allowduplicatedocnum`` lifts
the check, as in QBO.

Numbers in use are kept in an index per company and number space, as QBO's check is indexed (a scan of every
document per write made a first sync of 10k invoices quadratic): rows added since the last look are read
from the end of their tables (tables keep insertion order), a table that lost rows is read again, and a hit
is confirmed against the row itself, so a row deleted or renumbered since is no false duplicate.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
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


@dataclass
class _Index:
    """One number space of one company: casefolded number -> the (entity, Id) rows that held it when seen."""

    numbers: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)   # entity -> rows indexed, in table order
    last: dict[str, str] = field(default_factory=dict)     # entity -> Id of the last row indexed

    def add(self, number: Any, entity: str, row_id: str) -> None:
        if number:
            self.numbers.setdefault(str(number).casefold(), set()).add((entity, row_id))

    def refresh(self, realm: RealmState, names: tuple[str, ...]) -> None:
        for name in names:
            table = realm.entities.get(name, {})
            count = self.counts.get(name, 0)
            if len(table) == count and (not count or next(reversed(table)) == self.last[name]):
                continue
            if count and (len(table) < count or next(islice(table, count - 1, None)) != self.last[name]):
                count = 0  # rows were removed: read the table again (stale entries are confirmed on a hit)
            for row_id, row in islice(table.items(), count, None):
                self.add(row.get("DocNumber"), name, row_id)
            self.counts[name] = len(table)
            if table:
                self.last[name] = next(reversed(table))

    def holders(self, realm: RealmState, number: str, own_id: str | None) -> list[tuple[str, dict[str, Any]]]:
        """The rows holding ``number`` now, other than ``own_id``, in table order."""
        folded = number.casefold()
        found = []
        for name, row_id in self.numbers.get(folded, ()):
            row = realm.get(name, row_id)
            if row is not None and row["Id"] != own_id and str(row.get("DocNumber", "")).casefold() == folded:
                found.append((name, row))
        return sorted(found, key=lambda hit: (DOC_GROUPS[hit[0]].index(hit[0]), _position(hit[1])))


def _position(row: Mapping[str, Any]) -> int:
    """Ids grow as rows are added: the first holder is the one a scan in table order would meet."""
    text = str(row["Id"])
    return int(text) if text.isdigit() else 0


_INDEXES: dict[int, tuple[weakref.ref[RealmState], dict[tuple[str, ...], _Index]]] = {}


def _index(realm: RealmState, entity: str) -> _Index:
    """The company's index of ``entity``'s number space, brought up to date with its tables."""
    key = id(realm)
    held = _INDEXES.get(key)
    if held is None or held[0]() is not realm:
        held = (weakref.ref(realm, lambda _, key=key: _INDEXES.pop(key, None)), {})  # type: ignore[misc]
        _INDEXES[key] = held
    names = DOC_GROUPS[entity]
    index = held[1].setdefault(names, _Index())
    index.refresh(realm, names)
    return index


def _next_number(realm: RealmState, entity: str) -> str:
    index = _index(realm, entity)
    number = realm.doc_sequences.get(entity, FIRST_NUMBER)
    while index.holders(realm, str(number), None):
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
    index = _index(realm, entity)
    if not allow_duplicate:
        for name, row in index.holders(realm, number, own_id)[:1]:
            raise QboError("6140", f"Duplicate Document Number Error : You must specify a different number. "
                                   f"This number has already been used. DocNumber={number} is assigned to "
                                   f"TxnType={_TYPE_LABEL.get(name, name)} with TxnId={row['Id']}", "DocNumber")
    if own_id is not None:
        index.add(number, entity, own_id)  # an update may renumber its row in place
