"""Per-entity rules as a registry: what is required, what is defaulted, how names must be unique,
how the entity is voided or deleted. Operations look rules up here instead of branching on names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.sandbox.catalogue import ENTITIES
from connectors.sandbox.errors import QboError
from connectors.sandbox.store import RealmState
from connectors.sandbox.timefmt import add_days

__all__ = ["RULES", "EntityRules", "rules_for"]

Check = Callable[[RealmState, dict[str, Any]], None]

_NAME_PARTS = ("DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName")
_ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Accounts Receivable": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset",
    "Other Asset": "Asset", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Other Current Liability": "Liability", "Long Term Liability": "Liability", "Equity": "Equity",
    "Income": "Revenue", "Other Income": "Revenue", "Cost of Goods Sold": "Expense", "Expense": "Expense",
    "Other Expense": "Expense",
}


def _missing(name: str) -> QboError:
    return QboError("2020", f"Required parameter {name} is missing in the request", name)


def _require(*names: str) -> Check:
    def check(realm: RealmState, payload: dict[str, Any]) -> None:
        for name in names:
            if payload.get(name) in (None, "", []):
                raise _missing(name)
    return check


def _one_of(*names: str) -> Check:
    def check(realm: RealmState, payload: dict[str, Any]) -> None:
        if not any(payload.get(name) not in (None, "") for name in names):
            raise _missing(names[0])
    return check


def _person_name(realm: RealmState, payload: dict[str, Any]) -> None:
    if not payload.get("DisplayName"):
        parts = [str(payload[p]) for p in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
                 if payload.get(p)]
        name = " ".join(parts) or payload.get("CompanyName")
        if not name:
            raise _missing("DisplayName")
        payload["DisplayName"] = name
    if ":" in payload["DisplayName"] or "\t" in payload["DisplayName"] or "\n" in payload["DisplayName"]:
        raise QboError("6000", "Business Validation Error: names cannot contain a colon, tab or newline",
                       "DisplayName")
    payload["FullyQualifiedName"] = payload["DisplayName"]


def _item(realm: RealmState, payload: dict[str, Any]) -> None:
    item_type = payload.get("Type")
    if item_type in ("Service", "Inventory") and "IncomeAccountRef" not in payload:
        raise _missing("IncomeAccountRef")
    if item_type == "Inventory":
        for name in ("ExpenseAccountRef", "AssetAccountRef", "QtyOnHand", "InvStartDate"):
            if name not in payload:
                raise _missing(name)
        payload["TrackQtyOnHand"] = True
    _qualified(realm, payload, "Item")


def _qualified(realm: RealmState, payload: dict[str, Any], entity: str) -> None:
    parent = payload.get("ParentRef")
    name = str(payload.get("Name", ""))
    if isinstance(parent, dict) and realm.get(entity, str(parent.get("value"))):
        parent_row = realm.get(entity, str(parent["value"])) or {}
        payload["FullyQualifiedName"] = f"{parent_row.get('FullyQualifiedName', parent_row.get('Name'))}:{name}"
    else:
        payload["FullyQualifiedName"] = name


def _account(realm: RealmState, payload: dict[str, Any]) -> None:
    if not payload.get("AccountType") and not payload.get("AccountSubType"):
        raise _missing("AccountType")
    if any(ch in str(payload["Name"]) for ch in ('"', ":")):
        raise QboError("6000", "Business Validation Error: account names cannot contain \" or :", "Name")
    payload.setdefault("AccountType", "Expense")
    payload["Classification"] = _ACCOUNT_CLASSIFICATION.get(payload["AccountType"], "Expense")
    payload.setdefault("CurrentBalance", 0)
    _qualified(realm, payload, "Account")


def _term(realm: RealmState, payload: dict[str, Any]) -> None:
    if payload.get("DueDays") is None and payload.get("DayOfMonthDue") is None:
        raise _missing("DueDays")
    payload["Type"] = "STANDARD" if payload.get("DueDays") is not None else "DATE_DRIVEN"


def _payment_method(realm: RealmState, payload: dict[str, Any]) -> None:
    payload.setdefault("Type", "NON_CREDIT_CARD")


def _fr_payment(realm: RealmState, payload: dict[str, Any]) -> None:
    if realm.country == "FR" and not payload.get("PaymentRefNum"):
        raise _missing("PaymentRefNum")


def _global_tax(realm: RealmState, payload: dict[str, Any]) -> None:
    if realm.country != "US" and not payload.get("GlobalTaxCalculation"):
        raise _missing("GlobalTaxCalculation")


def _bill_payment(realm: RealmState, payload: dict[str, Any]) -> None:
    block, ref = ("CheckPayment", "BankAccountRef") if payload.get("PayType") == "Check" else (
        "CreditCardPayment", "CCAccountRef")
    if not isinstance(payload.get(block), dict) or ref not in payload[block]:
        raise _missing(f"{block}.{ref}")


def _purchase(realm: RealmState, payload: dict[str, Any]) -> None:
    account = realm.get("Account", str((payload.get("AccountRef") or {}).get("value")))
    wanted = "Credit Card" if payload.get("PaymentType") == "CreditCard" else "Bank"
    if account is not None and account.get("AccountType") != wanted:
        raise QboError("6000", f"Business Validation Error: a {payload.get('PaymentType')} purchase needs a "
                               f"{wanted} account in AccountRef", "AccountRef")


def _time_activity(realm: RealmState, payload: dict[str, Any]) -> None:
    """Whose time (an Employee or a Vendor, with its reference) and how long (Hours/Minutes or Start/EndTime)."""
    ref = {"Employee": "EmployeeRef", "Vendor": "VendorRef"}.get(str(payload.get("NameOf")))
    if ref is None:
        raise QboError("2170", f"Invalid Enumeration : {payload.get('NameOf')}", "NameOf")
    if not payload.get(ref):
        raise _missing(ref)
    timed = payload.get("StartTime") and payload.get("EndTime")
    if not timed and payload.get("Hours") is None and payload.get("Minutes") is None:
        raise _missing("Hours")


def _employee_name(realm: RealmState, payload: dict[str, Any]) -> None:
    if not (payload.get("GivenName") or payload.get("FamilyName") or payload.get("DisplayName")):
        raise _missing("GivenName")
    _person_name(realm, payload)


def _attachable(realm: RealmState, payload: dict[str, Any]) -> None:
    if not payload.get("FileName") and not payload.get("Note"):
        raise _missing("Note")


def _due_date(realm: RealmState, payload: dict[str, Any]) -> None:
    """DueDate defaults to TxnDate + the term's days."""
    if payload.get("DueDate") or not payload.get("TxnDate"):
        return
    term = realm.get("Term", str((payload.get("SalesTermRef") or {}).get("value")))
    days = int(term.get("DueDays", 0)) if term and term.get("DueDays") is not None else 0
    payload["DueDate"] = add_days(str(payload["TxnDate"])[:10], days)


def _customer_defaults(realm: RealmState, payload: dict[str, Any]) -> None:
    customer = realm.get("Customer", str((payload.get("CustomerRef") or {}).get("value"))) or {}
    for field_name in ("BillAddr", "ShipAddr"):
        if field_name not in payload and field_name in customer:
            payload[field_name] = customer[field_name]
    if "SalesTermRef" not in payload and "SalesTermRef" in customer:
        payload["SalesTermRef"] = customer["SalesTermRef"]


@dataclass(frozen=True)
class EntityRules:
    """How one entity is written."""

    checks: tuple[Check, ...] = ()
    unique_names: tuple[str, ...] = ()  # entities sharing one name space (empty: no uniqueness)
    name_field: str = "Name"
    creatable: bool = True
    void: str | None = None  # "operation" (?operation=void), "include" (update&include=void) or "fault"
    updatable: bool = True
    deletable: bool = True  # name lists are never deletable, whatever this says
    seedable: bool = False  # not creatable through the API, but test fixtures may create it
    extra: Mapping[str, Any] = field(default_factory=dict)


_NAMED = ("Name",)
_PEOPLE = ("Customer", "Vendor", "Employee")  # one DisplayName space
RULES: Mapping[str, EntityRules] = {
    "Account": EntityRules((_require(*_NAMED), _account), ("Account",)),
    "Class": EntityRules((_require(*_NAMED), lambda r, p: _qualified(r, p, "Class")), ("Class",)),
    "Department": EntityRules((_require(*_NAMED), lambda r, p: _qualified(r, p, "Department")), ("Department",)),
    "TaxCode": EntityRules(creatable=False, updatable=False),
    "TaxRate": EntityRules(creatable=False, updatable=False),
    "Term": EntityRules((_require(*_NAMED), _term), ("Term",)),
    "PaymentMethod": EntityRules((_require(*_NAMED), _payment_method), ("PaymentMethod",)),
    "Customer": EntityRules((_one_of(*_NAME_PARTS), _person_name), _PEOPLE, "DisplayName"),
    "Vendor": EntityRules((_one_of(*_NAME_PARTS), _person_name), _PEOPLE, "DisplayName"),
    "Employee": EntityRules((_employee_name,), _PEOPLE, "DisplayName"),
    "Item": EntityRules((_require("Name", "Type"), _item), ("Item",)),
    "Invoice": EntityRules((_require("CustomerRef", "Line"), _global_tax, _customer_defaults, _due_date),
                           void="operation"),
    "SalesReceipt": EntityRules((_require("Line"), _global_tax, _customer_defaults), void="include"),
    "CreditMemo": EntityRules((_require("CustomerRef", "Line"), _global_tax, _customer_defaults)),
    "Payment": EntityRules((_require("CustomerRef", "TotalAmt"), _fr_payment), void="include"),
    "Bill": EntityRules((_require("VendorRef", "Line"), _global_tax, _due_date), void="fault"),
    "BillPayment": EntityRules((_require("VendorRef", "PayType", "TotalAmt", "Line"), _bill_payment),
                               void="include"),
    "Purchase": EntityRules((_require("PaymentType", "AccountRef", "Line"), _global_tax, _purchase)),
    "Attachable": EntityRules((_attachable,)),
    "Estimate": EntityRules((_require("CustomerRef", "Line"), _global_tax, _customer_defaults)),
    "RefundReceipt": EntityRules((_require("Line", "DepositToAccountRef"), _global_tax, _customer_defaults)),
    "VendorCredit": EntityRules((_require("VendorRef", "Line"), _global_tax)),
    "PurchaseOrder": EntityRules((_require("VendorRef", "Line"), _global_tax, _due_date)),
    "JournalEntry": EntityRules((_require("Line"),)),
    "Deposit": EntityRules((_require("DepositToAccountRef", "Line"),)),
    "Transfer": EntityRules((_require("FromAccountRef", "ToAccountRef", "Amount"),)),
    "TimeActivity": EntityRules((_require("NameOf"), _time_activity)),
    "Budget": EntityRules(creatable=False, updatable=False, deletable=False, seedable=True),
    "TaxAgency": EntityRules((_require("DisplayName"),), ("TaxAgency",), "DisplayName", updatable=False,
                             deletable=False),
    "Preferences": EntityRules(creatable=False, deletable=False),
    "CompanyInfo": EntityRules(creatable=False, deletable=False),
}


def rules_for(entity: str) -> EntityRules:
    return RULES.get(entity, EntityRules()) if entity in ENTITIES else EntityRules(creatable=False)
