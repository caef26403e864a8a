"""Reference checks: every ``…Ref`` in a payload must name an existing record of the right entity.

An unknown id is QBO's 2500 with the field path in ``element``; a reference *newly* pointing at an
inactive record is 610 ("made inactive"), while references an existing record already had stay
valid, as QBO keeps inactive names referencable by existing transactions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.store import RealmState

__all__ = ["REF_TARGETS", "check_refs", "ref_paths"]

_ACCOUNT = ("Account",)
_TAXCODE = ("TaxCode",)
REF_TARGETS: Mapping[str, tuple[str, ...]] = {
    "CustomerRef": ("Customer",), "VendorRef": ("Vendor",), "ItemRef": ("Item",), "ClassRef": ("Class",),
    "DepartmentRef": ("Department",), "TaxRateRef": ("TaxRate",), "SalesTermRef": ("Term",),
    "TermRef": ("Term",), "PaymentMethodRef": ("PaymentMethod",),
    "TaxCodeRef": _TAXCODE, "TxnTaxCodeRef": _TAXCODE, "SalesTaxCodeRef": _TAXCODE,
    "PurchaseTaxCodeRef": _TAXCODE, "DefaultTaxCodeRef": _TAXCODE,
    "AccountRef": _ACCOUNT, "APAccountRef": _ACCOUNT, "ARAccountRef": _ACCOUNT, "DepositToAccountRef": _ACCOUNT,
    "IncomeAccountRef": _ACCOUNT, "ExpenseAccountRef": _ACCOUNT, "AssetAccountRef": _ACCOUNT,
    "DiscountAccountRef": _ACCOUNT, "BankAccountRef": _ACCOUNT, "CCAccountRef": _ACCOUNT,
    "ItemAccountRef": _ACCOUNT,
    "FromAccountRef": _ACCOUNT, "ToAccountRef": _ACCOUNT,
    "EmployeeRef": ("Employee",),
    "EntityRef": ("Vendor", "Customer", "Employee"),
}
_SKIP = frozenset({"MetaData", "LinkedTxn", "TxnTaxDetail", "AttachableRef", "CurrencyRef"})
_INACTIVE = ("Object Not Found : Something you're trying to use has been made inactive. "
             "Check the fields with accounts, customers, items, vendors or employees.")


def ref_paths(payload: Any, path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(element path, field name, reference object) for every reference in a payload."""
    if isinstance(payload, list):
        for item in payload:
            yield from ref_paths(item, path)
        return
    if not isinstance(payload, dict):
        return
    for key, value in payload.items():
        if key in _SKIP:
            continue
        element = f"{path}.{key}" if path else key
        if (key in REF_TARGETS or key == "ParentRef") and isinstance(value, dict):
            yield element, key, value
        elif isinstance(value, dict | list):
            yield from ref_paths(value, element)


def _targets(entity: str, key: str, ref: Mapping[str, Any]) -> tuple[str, ...]:
    if key == "ParentRef":
        return (entity,)
    if key == "EntityRef" and isinstance(ref.get("type"), str):
        return (ref["type"],)
    return REF_TARGETS[key]


def check_refs(realm: RealmState, entity: str, payload: Mapping[str, Any],
               previous: Mapping[str, Any] | None = None) -> None:
    """Raise 2020/2500/610 for the first bad reference in ``payload``."""
    before = {(element, str(ref.get("value"))) for element, _, ref in ref_paths(previous or {})}
    for element, key, ref in ref_paths(payload):
        value = ref.get("value")
        if value is None or value == "":
            raise QboError("2020", f"Required parameter {element}.value is missing in the request",
                           f"{element}.value")
        target = None
        for name in _targets(entity, key, ref):
            target = realm.get(name, str(value))
            if target is not None:
                break
        if target is None:
            raise QboError("2500", f"Invalid Reference Id : {element}", element)
        if target.get("Active") is False and (element, str(value)) not in before:
            raise QboError("610", _INACTIVE, element)
