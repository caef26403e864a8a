"""The entities the sandbox serves: Passerelle's catalogue (:mod:`connectors.qbo.entities`) plus the QBO entities
only the sandbox needs, because third-party clients use them (estimates, journal entries, deposits, …).

Field lists follow the QBO reference and what python-quickbooks 0.9.12 serialises (an unknown field is 2010,
so every field a well-known client sends must be listed). ``UNSERVED`` names QBO entities the sandbox does not
hold: a query of one answers an empty result, as a company without such records would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from connectors.qbo.entities import ENTITIES as _PASSERELLE_ENTITIES
from connectors.qbo.entities import LINE_DETAIL_FIELDS as _PASSERELLE_LINES
from connectors.qbo.entities import EntitySpec

__all__ = ["ENTITIES", "LINE_DETAIL_FIELDS", "UNSERVED", "entity_named"]

_COMMON = ("Id", "SyncToken", "MetaData", "domain", "sparse")
_TXN = ("DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "LinkedTxn", "Line",
        "TxnTaxDetail", "TransactionLocationType", "ProjectRef", "TotalAmt", "HomeTotalAmt", "GlobalTaxCalculation",
        "TxnSource", "AttachableRef", "CustomField")
_SALES = ("CustomerRef", "BillAddr", "ShipAddr", "ShipFromAddr", "SalesTermRef", "DueDate", "ApplyTaxAfterDiscount",
          "PrintStatus", "EmailStatus", "BillEmail", "ClassRef", "CustomerMemo", "ShipDate", "TrackingNum",
          "ShipMethodRef")
_PERSON = ("DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "PrintOnCheckName", "Active",
           "PrimaryPhone", "Mobile", "PrimaryEmailAddr", "PrimaryAddr", "Organization")


def _spec(name: str, family: str, *groups: tuple[str, ...]) -> EntitySpec:
    fields: set[str] = set(_COMMON)
    for group in groups:
        fields.update(group)
    return EntitySpec(name=name, fields=frozenset(fields), family=family)


_SANDBOX_ENTITIES: tuple[EntitySpec, ...] = (
    _spec("Estimate", "transaction", _TXN, _SALES, ("TxnStatus", "ExpirationDate", "AcceptedBy", "AcceptedDate",
                                                    "FreeFormAddress", "RecurDataRef")),
    _spec("JournalEntry", "transaction", _TXN, ("Adjustment", "JournalCodeRef", "HomeCurrencyAdjustment",
                                                "EnteredInHomeCurrency")),
    _spec("Deposit", "transaction", _TXN, ("DepositToAccountRef", "CashBack", "TxnStatus")),
    _spec("Transfer", "transaction", ("TxnDate", "PrivateNote", "TxnSource", "Amount", "FromAccountRef",
                                      "ToAccountRef", "TransactionLocationType", "RecurDataRef")),
    _spec("VendorCredit", "transaction", _TXN, ("VendorRef", "APAccountRef", "Balance", "VendorAddr")),
    _spec("PurchaseOrder", "transaction", _TXN, ("VendorRef", "APAccountRef", "ClassRef", "SalesTermRef", "DueDate",
                                                 "VendorAddr", "ShipAddr", "ShipMethodRef", "POStatus", "POEmail",
                                                 "Memo", "TaxCodeRef", "EmailStatus", "PrintStatus")),
    _spec("RefundReceipt", "transaction", _TXN, _SALES, ("DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
                                                         "PaymentType", "CheckPayment", "CreditCardPayment",
                                                         "Balance", "HomeBalance")),
    _spec("TimeActivity", "transaction", ("TxnDate", "TxnSource", "AttachableRef", "NameOf", "EmployeeRef",
                                          "VendorRef", "OtherNameRef", "CustomerRef", "ItemRef", "ClassRef",
                                          "DepartmentRef", "PayrollItemRef", "BillableStatus", "Taxable",
                                          "HourlyRate", "CostRate", "Hours", "Minutes", "BreakHours", "BreakMinutes",
                                          "StartTime", "EndTime", "Description", "ProjectRef")),
    _spec("Employee", "name-list", _PERSON, ("EmployeeNumber", "SSN", "BillableTime", "BillRate", "CostRate",
                                             "BirthDate", "Gender", "HiredDate", "ReleasedDate", "EmailAddress",
                                             "FullyQualifiedName", "OtherAddr", "V4IDPseudonym")),
    _spec("Budget", "other", ("Name", "StartDate", "EndDate", "BudgetType", "BudgetEntryType", "BudgetDetail",
                              "Active")),
    _spec("TaxAgency", "other", ("DisplayName", "TaxRegistrationNumber", "TaxTrackedOnSales",
                                 "TaxTrackedOnPurchases", "TaxAgencyConfig", "LastFileDate", "TaxAgencyExt")),
)


def _merged() -> dict[str, EntitySpec]:
    """Passerelle's specs win on family and required fields; field sets are united, so a spec the connector adds
    later only widens what the sandbox accepts."""
    merged = dict(_PASSERELLE_ENTITIES)
    for spec in _SANDBOX_ENTITIES:
        known = merged.get(spec.name)
        merged[spec.name] = spec if known is None else replace(known, fields=known.fields | spec.fields)
    return merged


ENTITIES: Mapping[str, EntitySpec] = _merged()

LINE_DETAIL_FIELDS: Mapping[str, frozenset[str]] = {
    **_PASSERELLE_LINES,
    "JournalEntryLineDetail": frozenset({"PostingType", "Entity", "AccountRef", "ClassRef", "DepartmentRef",
                                         "TaxCodeRef", "TaxApplicableOn", "TaxAmount", "BillableStatus",
                                         "JournalCodeRef"}),
    "DepositLineDetail": frozenset({"Entity", "ClassRef", "AccountRef", "PaymentMethodRef", "CheckNum", "TxnType",
                                    "TaxCodeRef", "TaxApplicableOn"}),
}

# QBO entities (API reference index) the sandbox holds no records of; queries answer an empty result.
UNSERVED: frozenset[str] = frozenset({
    "CompanyCurrency", "CreditCardPayment", "CustomerType", "ExchangeRate", "JournalCode", "RecurringTransaction",
    "ReimburseCharge", "TaxClassification", "TaxPayment", "InventoryAdjustment", "Currency", "Entitlements",
})


def entity_named(name: str) -> str | None:
    """The canonical name of a served entity, matched case-insensitively (``invoice`` → ``Invoice``)."""
    return _BY_LOWER.get(name.lower())


_BY_LOWER: Mapping[str, str] = {name.lower(): name for name in ENTITIES}
