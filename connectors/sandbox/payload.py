"""Request payloads checked against the entity catalogue: unknown fields, read-only fields, lengths, enums.

Unknown top-level or line-detail fields are refused with 2010 (QBO's deserialiser rejects properties
it does not know); read-only fields a client echoes back (``TotalAmt``, ``Balance``, ``MetaData``…) are
dropped silently, as QBO does. Empty strings and nulls are treated as "not sent", which is how
third-party clients serialise unset attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.qbo.entities import EntitySpec
from connectors.sandbox.catalogue import ENTITIES, LINE_DETAIL_FIELDS
from connectors.sandbox.errors import QboError

__all__ = ["ENUMS", "LINE_FIELDS", "MAX_LENGTHS", "READ_ONLY", "check_enums", "check_lengths", "clean"]

SYSTEM = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})
_COMPUTED_TXN = frozenset({"TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "RemainingCredit", "InvoiceLink",
                           "LinkedTxn"})

# Fields the server owns: accepted in a payload (clients echo what they read) and ignored.
READ_ONLY: Mapping[str, frozenset[str]] = {
    "Invoice": _COMPUTED_TXN, "SalesReceipt": _COMPUTED_TXN, "CreditMemo": _COMPUTED_TXN,
    "Bill": _COMPUTED_TXN, "Purchase": _COMPUTED_TXN, "Estimate": _COMPUTED_TXN, "RefundReceipt": _COMPUTED_TXN,
    "VendorCredit": _COMPUTED_TXN, "PurchaseOrder": _COMPUTED_TXN,
    "JournalEntry": frozenset({"TotalAmt", "HomeTotalAmt", "LinkedTxn"}),
    "Deposit": frozenset({"TotalAmt", "HomeTotalAmt", "LinkedTxn"}),
    "Employee": frozenset({"FullyQualifiedName"}),
    "Payment": frozenset({"UnappliedAmt", "HomeTotalAmt", "LinkedTxn", "TxnTaxDetail"}),
    "BillPayment": frozenset({"HomeTotalAmt", "LinkedTxn", "TxnTaxDetail"}),
    "Customer": frozenset({"Balance", "BalanceWithJobs", "FullyQualifiedName", "Level"}),
    "Vendor": frozenset({"Balance", "FullyQualifiedName"}),
    "Item": frozenset({"FullyQualifiedName", "Level"}),
    "Account": frozenset({"Classification", "CurrentBalance", "CurrentBalanceWithSubAccounts",
                          "FullyQualifiedName"}),
    "Class": frozenset({"FullyQualifiedName"}),
    "Department": frozenset({"FullyQualifiedName"}),
    "Attachable": frozenset({"Size", "TempDownloadUri", "FileAccessUri", "ThumbnailFileAccessUri"}),
}

# Keys a line may carry besides its detail object.
LINE_FIELDS = frozenset({"Id", "LineNum", "Description", "Amount", "DetailType", "LinkedTxn", "CustomField",
                         "LineEx", "ProjectRef"})

MAX_LENGTHS: Mapping[tuple[str, str], int] = {
    ("*", "DocNumber"): 21, ("*", "PrivateNote"): 4000, ("*", "DisplayName"): 500,
    ("Item", "Name"): 100, ("Account", "Name"): 100, ("Class", "Name"): 100, ("Department", "Name"): 100,
    ("Term", "Name"): 31, ("PaymentMethod", "Name"): 31, ("Item", "Sku"): 100, ("Attachable", "Note"): 2000,
    ("*", "PaymentRefNum"): 21,
}

ENUMS: Mapping[tuple[str, str], frozenset[str]] = {
    ("Item", "Type"): frozenset({"Service", "NonInventory", "Inventory", "Category", "Group"}),
    ("Purchase", "PaymentType"): frozenset({"Cash", "Check", "CreditCard"}),
    ("BillPayment", "PayType"): frozenset({"Check", "CreditCard"}),
    ("PaymentMethod", "Type"): frozenset({"CREDIT_CARD", "NON_CREDIT_CARD"}),
    ("Account", "AccountType"): frozenset({
        "Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset", "Accounts Payable",
        "Credit Card", "Other Current Liability", "Long Term Liability", "Equity", "Income",
        "Cost of Goods Sold", "Expense", "Other Income", "Other Expense"}),
    ("*", "GlobalTaxCalculation"): frozenset({"TaxExcluded", "TaxInclusive", "NotApplicable"}),
    ("*", "PrintStatus"): frozenset({"NotSet", "NeedToPrint", "PrintComplete"}),
    ("*", "EmailStatus"): frozenset({"NotSet", "NeedToSend", "EmailSent"}),
    ("Estimate", "TxnStatus"): frozenset({"Pending", "Accepted", "Closed", "Rejected"}),
    ("PurchaseOrder", "POStatus"): frozenset({"Open", "Closed"}),
    ("TimeActivity", "NameOf"): frozenset({"Employee", "Vendor"}),
    ("*", "BillableStatus"): frozenset({"Billable", "NotBillable", "HasBeenBilled"}),
    ("Budget", "BudgetType"): frozenset({"ProfitAndLoss", "BalanceSheet"}),
    ("Budget", "BudgetEntryType"): frozenset({"Monthly", "Quarterly", "Annually"}),
}


# Fields QBO deserialises as one string, date, number or boolean: an object or an array there is refused
# (2010, as QBO's deserialiser words it), never stored.
# A number sent for a text field is read as its text, as QBO's deserialiser does.
TEXTS: frozenset[str] = frozenset({
    "DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName", "Title", "Suffix", "PrintOnCheckName",
    "Name", "Sku", "Description", "TxnDate", "DueDate", "ShipDate", "DocNumber", "PrivateNote", "Notes", "AcctNum",
    "PaymentRefNum",
}) | {key for _, key in MAX_LENGTHS} | {key for _, key in ENUMS}
SCALARS: frozenset[str] = TEXTS | {"Active", "Taxable", "Job", "BillWithParent", "UnitPrice", "Qty"}
# References and addresses are objects: a bare value there is refused.
_OBJECT_SUFFIXES = ("Ref", "Addr")
_REF_LISTS = frozenset({"AttachableRef"})  # a list of references


def _scalar(key: str, value: Any) -> Any:
    """``value`` as QBO reads it for ``key``; 2010 for a value of the wrong shape."""
    if key in SCALARS and isinstance(value, dict | list):
        token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
        raise QboError("2010", f"Property Name:Can not deserialize instance of {key} out of {token} token "
                               "specified is unsupported or invalid", key)
    shape = list if key in _REF_LISTS else dict
    if key.endswith(_OBJECT_SUFFIXES) and value is not None and value != "" and not isinstance(value, shape):
        raise QboError("2010", f"Property Name:Can not construct instance of {key} from a "
                               f"{type(value).__name__} value specified is unsupported or invalid", key)
    if key in TEXTS and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or value in ("", [])


def clean(spec: EntitySpec, body: Mapping[str, Any]) -> dict[str, Any]:
    """The writable part of a payload; 2010 for a field the catalogue does not know."""
    read_only = READ_ONLY.get(spec.name, frozenset())
    result: dict[str, Any] = {}
    for key, sent in body.items():
        if key not in spec.fields and key not in SYSTEM:
            raise QboError("2010", f"Property Name:Unrecognized field \"{key}\" (class {spec.name}), "
                                   "not marked as ignorable specified is unsupported or invalid", key)
        if key in SYSTEM or key in read_only:
            continue
        value = _scalar(key, sent)
        if _empty(value) and key != "Line":
            continue
        result[key] = value
    if "Line" in result:
        if not isinstance(result["Line"], list):
            raise QboError("2010", "Line must be an array", "Line")
        result["Line"] = [_clean_line(spec, line) for line in result["Line"]]
    return result


def _clean_line(spec: EntitySpec, line: Any) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise QboError("2010", "Each Line must be an object", "Line")
    out: dict[str, Any] = {}
    for key, sent in line.items():
        if key not in LINE_FIELDS and key not in LINE_DETAIL_FIELDS and key != "GroupLineDetail":
            raise QboError("2010", f"Property Name:Unrecognized field \"{key}\" (class Line), "
                                   "not marked as ignorable specified is unsupported or invalid", f"Line.{key}")
        value = _scalar(key, sent)
        if _empty(value) and key not in ("LinkedTxn",):
            continue
        out[key] = _clean_detail(key, value) if key in LINE_DETAIL_FIELDS and isinstance(value, dict) else value
    return out


def _clean_detail(detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    known = LINE_DETAIL_FIELDS[detail_type]
    out: dict[str, Any] = {}
    for key, sent in detail.items():
        if key not in known:
            raise QboError("2010", f"Property Name:Unrecognized field \"{key}\" (class {detail_type}), "
                                   "not marked as ignorable specified is unsupported or invalid",
                           f"Line.{detail_type}.{key}")
        value = _scalar(key, sent)
        if not _empty(value):
            out[key] = value
    return out


def _limit(entity: str, key: str) -> int | None:
    return MAX_LENGTHS.get((entity, key), MAX_LENGTHS.get(("*", key)))


def check_lengths(entity: str, payload: Mapping[str, Any]) -> None:
    """2050 for a string field longer than QBO allows."""
    for key, value in payload.items():
        limit = _limit(entity, key)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            raise QboError("2050", f"String length specified does not match the supported length. "
                                   f"Min:0 Max:{limit} Supplied length:{len(value)}", key)
    for line in payload.get("Line") or ():
        description = line.get("Description")
        if isinstance(description, str) and len(description) > 4000:
            raise QboError("2050", f"String length specified does not match the supported length. "
                                   f"Min:0 Max:4000 Supplied length:{len(description)}", "Line.Description")


def check_enums(entity: str, payload: Mapping[str, Any]) -> None:
    """2170 for a value outside an enumeration QBO defines."""
    for key, value in payload.items():
        allowed = ENUMS.get((entity, key), ENUMS.get(("*", key)))
        if allowed is not None and value not in allowed:
            raise QboError("2170", f"Invalid Enumeration : {value}", key)


def spec_of(name: str) -> EntitySpec:
    return ENTITIES[name]
