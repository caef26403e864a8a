"""Forms that move money between accounts: journal entries, deposits and transfers, with their computed totals.

- JournalEntry: every line is a ``JournalEntryLineDetail`` with ``PostingType`` Debit or Credit and an
  ``AccountRef``; debits must equal credits (6000 otherwise); ``TotalAmt`` is the sum of the debits.
- Deposit: into a Bank (or other asset) account; a line either links one undeposited Payment or SalesReceipt
  (``LinkedTxn``, the whole amount, once) or is a ``DepositLineDetail`` with its own ``AccountRef``;
  ``TotalAmt`` = lines - ``CashBack.Amount``.
- Transfer: ``Amount`` > 0 between two different balance-sheet accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.jsonio import money, to_decimal
from connectors.sandbox.links import applied_to
from connectors.sandbox.store import RealmState

__all__ = ["BANK_COMPUTERS", "DEPOSITABLE"]

DEPOSITABLE = frozenset({"Payment", "SalesReceipt"})
_BALANCE_SHEET = frozenset({"Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset",
                            "Accounts Payable", "Credit Card", "Other Current Liability", "Long Term Liability",
                            "Equity"})


def _missing(element: str) -> QboError:
    return QboError("2020", f"Required parameter {element} is missing in the request", element)


def _business(reason: str, element: str) -> QboError:
    return QboError("6000", f"Business Validation Error: {reason}", element)


def _account(realm: RealmState, ref: Any, element: str) -> dict[str, Any]:
    if not isinstance(ref, dict) or ref.get("value") in (None, ""):
        raise _missing(element)
    account = realm.get("Account", str(ref["value"]))
    if account is None:
        raise QboError("2500", f"Invalid Reference Id : {element}", element)
    return account


def _assign_line_ids(lines: list[dict[str, Any]]) -> None:
    for number, line in enumerate(lines, start=1):
        line["Id"] = str(number)
        line["LineNum"] = number


def _journal(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    lines = [dict(line) for line in payload.get("Line") or ()]
    if not lines:
        raise _missing("Line")
    totals = {"Debit": Decimal(0), "Credit": Decimal(0)}
    for line in lines:
        if line.get("DetailType") != "JournalEntryLineDetail":
            raise QboError("2170", f"Invalid Enumeration : {line.get('DetailType')}", "Line.DetailType")
        detail = dict(line.get("JournalEntryLineDetail") or {})
        line["JournalEntryLineDetail"] = detail
        posting = detail.get("PostingType")
        if posting not in totals:
            raise QboError("2170", f"Invalid Enumeration : {posting}", "Line.JournalEntryLineDetail.PostingType")
        _account(realm, detail.get("AccountRef"), "Line.JournalEntryLineDetail.AccountRef")
        if "Amount" not in line:
            raise _missing("Line.Amount")
        amount = money(to_decimal(line["Amount"], "Line.Amount"))
        if amount < 0:
            raise _business("a journal line's amount cannot be negative", "Line.Amount")
        line["Amount"] = amount
        totals[posting] += amount
    if totals["Debit"] != totals["Credit"]:
        raise _business(f"The transaction must be in balance: debits {totals['Debit']} do not equal credits "
                        f"{totals['Credit']}", "Line")
    _assign_line_ids(lines)
    payload["Line"] = lines
    payload["TotalAmt"] = totals["Debit"]


def _deposited_line(realm: RealmState, line: dict[str, Any], own_id: str | None) -> Decimal:
    links = line.get("LinkedTxn") or []
    if len(links) != 1:
        raise _business("each deposit line links at most one transaction", "Line.LinkedTxn")
    txn_type, txn_id = str(links[0].get("TxnType")), str(links[0].get("TxnId"))
    if txn_type not in DEPOSITABLE:
        raise QboError("620", f"TxnID Cannot Be Linked : {txn_type} cannot be linked to a Deposit",
                       "Line.LinkedTxn.TxnType")
    source = realm.get(txn_type, txn_id)
    if source is None:
        raise QboError("610", f"Object Not Found : {txn_type} {txn_id} does not exist or has been deleted",
                       "Line.LinkedTxn.TxnId")
    account = realm.get("Account", str((source.get("DepositToAccountRef") or {}).get("value")))
    if account is not None and account.get("AccountSubType") != "UndepositedFunds":
        raise _business(f"{txn_type} {txn_id} was not received into Undeposited Funds", "Line.LinkedTxn")
    if source.get("_voided"):
        raise _business(f"{txn_type} {txn_id} is void", "Line.LinkedTxn")
    _, others = applied_to(realm, txn_type, txn_id, exclude=own_id)
    if others:
        raise _business(f"{txn_type} {txn_id} is already deposited (Deposit {others[0]})", "Line.LinkedTxn")
    total = to_decimal(source.get("TotalAmt", 0))
    amount = money(to_decimal(line.get("Amount", total), "Line.Amount"))
    if amount != total:
        raise _business(f"a deposit line must carry the whole {txn_type} amount ({total})", "Line.Amount")
    line["Amount"] = amount
    line["LinkedTxn"] = [{"TxnId": txn_id, "TxnType": txn_type, "TxnLineId": "0"}]
    return amount


def _deposit(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    target = _account(realm, payload.get("DepositToAccountRef"), "DepositToAccountRef")
    if target.get("AccountSubType") == "UndepositedFunds" or target.get("AccountType") not in _BALANCE_SHEET:
        raise _business("deposit into a bank or other balance-sheet account", "DepositToAccountRef")
    lines = [dict(line) for line in payload.get("Line") or ()]
    if not lines:
        raise _missing("Line")
    own_id = previous.get("Id")
    total = Decimal(0)
    for line in lines:
        if line.get("LinkedTxn"):
            total += _deposited_line(realm, line, own_id)
            continue
        if line.get("DetailType") != "DepositLineDetail":
            raise _missing("Line.DepositLineDetail")
        detail = dict(line.get("DepositLineDetail") or {})
        line["DepositLineDetail"] = detail
        _account(realm, detail.get("AccountRef"), "Line.DepositLineDetail.AccountRef")
        if "Amount" not in line:
            raise _missing("Line.Amount")
        line["Amount"] = money(to_decimal(line["Amount"], "Line.Amount"))
        total += line["Amount"]
    _assign_line_ids(lines)
    cash_back = payload.get("CashBack")
    if isinstance(cash_back, dict) and cash_back.get("Amount") not in (None, ""):
        _account(realm, cash_back.get("AccountRef"), "CashBack.AccountRef")
        total -= money(to_decimal(cash_back["Amount"], "CashBack.Amount"))
    payload["Line"] = lines
    payload["TotalAmt"] = money(total)


def _transfer(realm: RealmState, entity: str, payload: dict[str, Any], previous: Mapping[str, Any]) -> None:
    source = _account(realm, payload.get("FromAccountRef"), "FromAccountRef")
    target = _account(realm, payload.get("ToAccountRef"), "ToAccountRef")
    if source["Id"] == target["Id"]:
        raise _business("a transfer needs two different accounts", "ToAccountRef")
    for account, element in ((source, "FromAccountRef"), (target, "ToAccountRef")):
        if account.get("AccountType") not in _BALANCE_SHEET:
            raise _business(f"transfers move money between balance-sheet accounts, not {account['Name']}",
                            element)
    if payload.get("Amount") in (None, ""):
        raise _missing("Amount")
    amount = money(to_decimal(payload["Amount"], "Amount"))
    if amount <= 0:
        raise _business("the amount of a transfer must be more than zero", "Amount")
    payload["Amount"] = amount


BANK_COMPUTERS = {"JournalEntry": _journal, "Deposit": _deposit, "Transfer": _transfer}
