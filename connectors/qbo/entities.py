"""The QBO entities Passerelle knows, with their top-level fields.

One catalogue serves the rule compiler (a mapping to an unknown QBO field is an error with its
location), the sandbox and the connector. Field lists follow the QBO Accounting API v3 reference
(see shared/reference/qbo-api.md §2); read-only fields are listed too, because packs read them
(``Balance``, ``TotalAmt``) even though they never write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENTITIES", "LINE_DETAIL_FIELDS", "EntitySpec", "entity", "entity_names"]

_COMMON = ("Id", "SyncToken", "MetaData", "domain", "sparse")
_TXN = (
    "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "LinkedTxn",
    "Line", "TxnTaxDetail", "TransactionLocationType", "ProjectRef", "TotalAmt", "HomeTotalAmt",
    "GlobalTaxCalculation",
)
_SALES = (
    "CustomerRef", "BillAddr", "ShipAddr", "SalesTermRef", "DueDate", "Balance", "HomeBalance",
    "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus", "BillEmail", "ClassRef", "DepositToAccountRef",
    "CustomerMemo", "ShipDate", "TrackingNum", "ShipMethodRef", "CustomField", "AllowOnlineCreditCardPayment",
    "AllowOnlineACHPayment", "AllowIPNPayment", "AllowOnlinePayment", "Deposit", "InvoiceLink",
    "AutoDocNumber", "PaymentMethodRef", "PaymentRefNum", "RemainingCredit",
)
_NAME = (
    "DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName", "PrintOnCheckName",
    "Active", "PrimaryPhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr", "BillAddr", "Notes", "Balance",
    "CurrencyRef", "Taxable", "DefaultTaxCodeRef", "FullyQualifiedName", "OpenBalanceDate", "SalesTermRef",
    "PaymentMethodRef", "ParentRef", "Job", "BillWithParent", "ShipAddr", "PreferredDeliveryMethod",
    "ResaleNum", "TaxExemptionReasonId", "PrimaryTaxIdentifier",
)


@dataclass(frozen=True)
class EntitySpec:
    """One QBO entity: its name, URL segment, family and known fields."""

    name: str
    fields: frozenset[str]
    family: str  # "transaction", "name-list" or "other": decides void/delete/deactivate rules
    required: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.name.lower()


def _spec(name: str, family: str, *groups: tuple[str, ...], required: tuple[str, ...] = ()) -> EntitySpec:
    fields: set[str] = set(_COMMON)
    for group in groups:
        fields.update(group)
    return EntitySpec(name=name, fields=frozenset(fields), family=family, required=required)


ENTITIES: Mapping[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        _spec("Account", "name-list", ("Name", "AcctNum", "AccountType", "AccountSubType", "Classification",
              "CurrentBalance", "CurrentBalanceWithSubAccounts", "SubAccount", "ParentRef", "Active",
              "Description", "FullyQualifiedName", "CurrencyRef", "TxnLocationType", "AccountAlias",
              "TaxCodeRef")),
        _spec("Class", "name-list", ("Name", "SubClass", "ParentRef", "FullyQualifiedName", "Active"),
              required=("Name",)),
        _spec("Department", "name-list", ("Name", "SubDepartment", "ParentRef", "FullyQualifiedName", "Active"),
              required=("Name",)),
        _spec("TaxCode", "name-list", ("Name", "Description", "Active", "Taxable", "TaxGroup", "Hidden",
              "SalesTaxRateList", "PurchaseTaxRateList", "TaxCodeConfigType")),
        _spec("TaxRate", "name-list", ("Name", "Description", "RateValue", "AgencyRef", "SpecialTaxType",
              "DisplayType", "EffectiveTaxRate", "TaxReturnLineRef", "Active")),
        _spec("Term", "name-list", ("Name", "DueDays", "DayOfMonthDue", "DiscountPercent", "DiscountDays",
              "Type", "Active"), ("DiscountDayOfMonth", "DueNextMonthDays")),
        _spec("PaymentMethod", "name-list", ("Name", "Type", "Active"), required=("Name",)),
        _spec("Customer", "name-list", _NAME, ("ARAccountRef", "AlternatePhone", "BalanceWithJobs", "IsProject",
              "Level")),
        _spec("Vendor", "name-list", _NAME, ("AcctNum", "Vendor1099", "TermRef", "APAccountRef"),
              ("AlternatePhone", "BillRate", "TaxIdentifier", "TaxReportingBasis")),
        _spec("Item", "name-list", ("Name", "Sku", "Type", "Description", "PurchaseDesc", "Active", "UnitPrice",
              "PurchaseCost", "Taxable", "SalesTaxCodeRef", "PurchaseTaxCodeRef", "IncomeAccountRef",
              "ExpenseAccountRef", "AssetAccountRef", "TrackQtyOnHand", "QtyOnHand", "InvStartDate",
              "SubItem", "ParentRef", "FullyQualifiedName", "Level", "ClassRef"),
              ("AbatementRate", "ItemCategoryType", "PurchaseTaxIncluded", "ReverseChargeRate", "SalesTaxIncluded",
               "ServiceType")),
        _spec("Invoice", "transaction", _TXN, _SALES, ("BillEmailBcc", "BillEmailCc", "DeliveryInfo", "EInvoiceStatus",
              "FreeFormAddress", "RecurDataRef", "TaxExemptionRef"), required=("CustomerRef", "Line")),
        _spec("SalesReceipt", "transaction", _TXN, _SALES, ("CreditCardPayment", "DeliveryInfo", "TxnSource"),
              required=("Line",)),
        _spec("CreditMemo", "transaction", _TXN, _SALES, required=("CustomerRef", "Line")),
        _spec("Payment", "transaction", _TXN, ("CustomerRef", "DepositToAccountRef", "PaymentMethodRef",
              "PaymentRefNum", "UnappliedAmt", "ARAccountRef", "ProcessPayment", "CreditCardPayment"),
              ("TaxExemptionRef", "TxnSource", "TxnStatus"),
              required=("CustomerRef", "TotalAmt")),
        _spec("Bill", "transaction", _TXN, ("VendorRef", "APAccountRef", "SalesTermRef", "DueDate", "Balance",
              "HomeBalance", "VendorAddr"), ("AttachableRef",)),
        _spec("BillPayment", "transaction", _TXN, ("VendorRef", "PayType", "CheckPayment", "CreditCardPayment",
              "APAccountRef", "ProcessBillPayment"), required=("VendorRef", "PayType", "TotalAmt", "Line")),
        _spec("Purchase", "transaction", _TXN, ("PaymentType", "AccountRef", "EntityRef", "Credit",
              "PaymentMethodRef", "PaymentRefNum", "RemitToAddr", "PrintStatus"), ("PurchaseEx", "TxnSource"),
              required=("PaymentType", "AccountRef", "Line")),
        _spec("Attachable", "other", ("FileName", "Note", "AttachableRef", "Category", "ContentType", "Size",
              "TempDownloadUri", "FileAccessUri", "ThumbnailFileAccessUri", "Tag"),
              ("Lat", "Long", "PlaceName", "ThumbnailTempDownloadUri")),
        _spec("Preferences", "other", ("AccountingInfoPrefs", "SalesFormsPrefs", "VendorAndPurchasesPrefs",
              "TaxPrefs", "CurrencyPrefs", "OtherPrefs", "ProductAndServicesPrefs", "TimeTrackingPrefs",
              "EmailMessagesPrefs", "ReportPrefs")),
        _spec("CompanyInfo", "other", ("CompanyName", "LegalName", "CompanyAddr", "Country", "CustomerCommunicationAddr",
              "LegalAddr", "Email", "WebAddr", "FiscalYearStartMonth", "SupportedLanguages", "NameValue",
              "CompanyStartDate", "PrimaryPhone")),
    )
}

# Fields of each line shape, keyed by DetailType (the detail object is named like its type).
LINE_DETAIL_FIELDS: Mapping[str, frozenset[str]] = {
    "SalesItemLineDetail": frozenset({"ItemRef", "ClassRef", "UnitPrice", "Qty", "ItemAccountRef", "TaxCodeRef",
                                      "ServiceDate", "MarkupInfo", "TaxInclusiveAmt", "DiscountRate",
                                      "DiscountAmt", "PriceLevelRef"}),
    "DiscountLineDetail": frozenset({"PercentBased", "DiscountPercent", "DiscountAccountRef", "ClassRef",
                                     "TaxCodeRef", "Discount", "ServiceDate"}),
    "SubTotalLineDetail": frozenset({"ItemRef"}),
    "DescriptionOnly": frozenset({"ServiceDate", "TaxCodeRef"}),
    "AccountBasedExpenseLineDetail": frozenset({"AccountRef", "TaxCodeRef", "BillableStatus", "CustomerRef",
                                                "ClassRef", "TaxAmount", "TaxInclusiveAmt", "MarkupInfo"}),
    "ItemBasedExpenseLineDetail": frozenset({"ItemRef", "Qty", "UnitPrice", "TaxCodeRef", "BillableStatus",
                                             "CustomerRef", "ClassRef", "MarkupInfo", "TaxInclusiveAmt",
                                             "PriceLevelRef"}),
    "TaxLineDetail": frozenset({"TaxRateRef", "PercentBased", "TaxPercent", "NetAmountTaxable",
                                "TaxInclusiveAmount", "OverrideDeltaAmount"}),
}


def entity(name: str) -> EntitySpec | None:
    return ENTITIES.get(name)


def entity_names() -> tuple[str, ...]:
    return tuple(sorted(ENTITIES))
