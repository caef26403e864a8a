"""The US company: manual sales tax (TAX/NON line codes, a rate chosen by the header tax code), USD,
automatic transaction numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.sandbox.presets import Preset
from connectors.sandbox.presets.common import (
    account,
    budget,
    employee,
    name_row,
    ref,
    tax_agency,
    tax_code,
    tax_rate,
    with_rate_names,
)

__all__ = ["US", "empty"]

_ADDR = {"Line1": "2500 Garcia Ave", "City": "Mountain View", "CountrySubDivisionCode": "CA",
         "PostalCode": "94043", "Country": "US"}

_RATES = (tax_rate(21, "California", "7.25"), tax_rate(22, "San Francisco County", "1.375"),
          tax_rate(23, "Los Angeles County", "2.25"))
_PSEUDO_CODES = (
    {"Id": "TAX", "Name": "TAX", "Description": "TAX", "Active": True, "Taxable": True, "TaxGroup": False},
    {"Id": "NON", "Name": "NON", "Description": "NON", "Active": True, "Taxable": False, "TaxGroup": False},
)


def _preferences(custom_numbers: bool) -> dict[str, Any]:
    return {
        "Id": "1",
        "AccountingInfoPrefs": {"TrackDepartments": True, "DepartmentTerminology": "Location",
                                "ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": True,
                                "UseAccountNumbers": False, "FirstMonthOfFiscalYear": "January"},
        "SalesFormsPrefs": {"CustomTxnNumbers": custom_numbers, "AllowDiscount": True, "AllowShipping": True,
                            "AllowDeposit": True},
        "VendorAndPurchasesPrefs": {"TrackingByCustomer": True, "BillableExpenseTracking": True},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": False},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": ref("USD")},
        "OtherPrefs": {"NameValue": [{"Name": "WarnDuplicateCheckNumber", "Value": "true"}]},
    }


def _company(name: str) -> dict[str, Any]:
    return {"Id": "1", "CompanyName": name, "LegalName": name, "CompanyAddr": _ADDR, "LegalAddr": _ADDR,
            "Country": "US", "Email": {"Address": "books@sandbox-company.example"},
            "FiscalYearStartMonth": "January", "SupportedLanguages": "en", "CompanyStartDate": "2020-01-01"}


def _customer(id_: int, name: str, taxable: bool = True) -> dict[str, Any]:
    return name_row(id_, name, CompanyName=name, Taxable=taxable, CurrencyRef=ref("USD", "United States Dollar"),
                    PrimaryEmailAddr={"Address": f"ap{id_}@customer.example"},
                    BillAddr={"Line1": f"{id_} Main St", "City": "Oakland", "CountrySubDivisionCode": "CA",
                              "PostalCode": "94612", "Country": "US"})


def _item(id_: int, name: str, kind: str, price: str, income: int, taxable: bool,  # noqa: PLR0917
          **extra: Any) -> dict[str, Any]:
    return {"Id": str(id_), "Name": name, "FullyQualifiedName": name, "Type": kind, "Active": True,
            "UnitPrice": Decimal(price), "IncomeAccountRef": ref(income), "Taxable": taxable,
            "TrackQtyOnHand": False, **extra}


US = Preset(
    name="us", country="US", timezone="America/Los_Angeles",
    rows={
        "Account": (
            account(1, "Checking", "Bank", "Checking", classification="Asset"),
            account(2, "Savings", "Bank", "Savings", classification="Asset"),
            account(3, "Visa", "Credit Card", "CreditCard", classification="Liability"),
            account(4, "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable",
                    classification="Asset"),
            account(5, "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", classification="Liability"),
            account(6, "Undeposited Funds", "Other Current Asset", "UndepositedFunds", classification="Asset"),
            account(7, "Sales Tax Payable", "Other Current Liability", "SalesTaxPayable",
                    classification="Liability"),
            account(8, "Services", "Income", "ServiceFeeIncome", classification="Revenue"),
            account(9, "Sales of Product Income", "Income", "SalesOfProductIncome", classification="Revenue"),
            account(10, "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
            account(11, "Office Supplies", "Expense", "OfficeGeneralAdministrativeExpenses"),
            account(12, "Rent or Lease", "Expense", "RentOrLeaseOfBuildings"),
            account(13, "Utilities", "Expense", "Utilities"),
            account(14, "Bank Charges", "Expense", "BankCharges"),
            account(15, "Legal & Professional Fees", "Expense", "LegalProfessionalFees"),
            account(16, "Opening Balance Equity", "Equity", "OpeningBalanceEquity", classification="Equity"),
        ),
        "TaxRate": _RATES,
        "TaxAgency": (tax_agency("California Department of Tax and Fee Administration", "SR-KH-100-000001"),),
        "Employee": (employee(65, "Jordan", "Smith", EmployeeNumber="E-1"),),
        "Budget": (budget(19, "Budget 2025", 2025, ((8, "5000"), (12, "1500"))),),
        "TaxCode": (*_PSEUDO_CODES, *with_rate_names((tax_code(31, "San Francisco", (21, 22), ()),
                                                      tax_code(32, "Los Angeles", (21, 23), ())), _RATES)),
        "Class": ({"Id": "41", "Name": "Retail", "FullyQualifiedName": "Retail", "SubClass": False, "Active": True},
                  {"Id": "42", "Name": "Wholesale", "FullyQualifiedName": "Wholesale", "SubClass": False,
                   "Active": True}),
        "Department": ({"Id": "43", "Name": "East", "FullyQualifiedName": "East", "SubDepartment": False,
                        "Active": True},
                       {"Id": "44", "Name": "West", "FullyQualifiedName": "West", "SubDepartment": False,
                        "Active": True}),
        "Term": ({"Id": "45", "Name": "Due on receipt", "DueDays": 0, "Type": "STANDARD", "Active": True},
                 {"Id": "46", "Name": "Net 15", "DueDays": 15, "Type": "STANDARD", "Active": True},
                 {"Id": "47", "Name": "Net 30", "DueDays": 30, "Type": "STANDARD", "Active": True}),
        "PaymentMethod": ({"Id": "48", "Name": "Cash", "Type": "NON_CREDIT_CARD", "Active": True},
                          {"Id": "49", "Name": "Check", "Type": "NON_CREDIT_CARD", "Active": True},
                          {"Id": "50", "Name": "Visa", "Type": "CREDIT_CARD", "Active": True},
                          {"Id": "51", "Name": "MasterCard", "Type": "CREDIT_CARD", "Active": True}),
        "Customer": (_customer(52, "Amy's Bird Sanctuary"), _customer(53, "Bill's Windsurf Shop"),
                     _customer(54, "Cool Cars"), _customer(55, "Diego Rodriguez", taxable=False)),
        "Vendor": (name_row(56, "Brosnahan Insurance Agency"), name_row(57, "Cal Telephone"),
                   name_row(58, "Hicks Hardware"), name_row(59, "PG&E")),
        "Item": (_item(60, "Services", "Service", "100", 8, False),
                 _item(61, "Design", "Service", "75", 8, False),
                 _item(62, "Pump", "NonInventory", "15", 9, True, ExpenseAccountRef=ref(10)),
                 _item(63, "Rock Fountain", "NonInventory", "275", 9, True, ExpenseAccountRef=ref(10)),
                 _item(64, "Hours", "Service", "50", 8, False)),
        "Preferences": (_preferences(custom_numbers=False),),
        "CompanyInfo": (_company("Sandbox Company US"),),
    },
)


def empty() -> Preset:
    """A US company with only what QBO creates itself: preferences, company info and the TAX/NON codes."""
    return Preset(name="empty", country="US", timezone="America/Los_Angeles",
                  rows={"TaxCode": _PSEUDO_CODES, "Preferences": (_preferences(custom_numbers=False),),
                        "CompanyInfo": (_company("Empty Company"),)})
