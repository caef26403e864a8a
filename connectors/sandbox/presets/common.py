"""Small builders shared by the presets, so the data files read as tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["TAX_AGENCY_ID", "account", "budget", "employee", "name_row", "ref", "tax_agency", "tax_code", "tax_rate",
           "with_rate_names"]

TAX_AGENCY_ID = 20  # the preset company's one tax agency, named by every tax rate's AgencyRef


def ref(value: str | int, name: str | None = None) -> dict[str, str]:
    result = {"value": str(value)}
    if name is not None:
        result["name"] = name
    return result


def account(id_: int, name: str, account_type: str, sub_type: str, number: str | None = None,  # noqa: PLR0917
            classification: str = "Expense", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"Id": str(id_), "Name": name, "AccountType": account_type, "AccountSubType": sub_type,
                           "Classification": classification, "FullyQualifiedName": name, "Active": True,
                           "SubAccount": False, "CurrentBalance": 0, "CurrentBalanceWithSubAccounts": 0}
    if number is not None:
        row["AcctNum"] = number
    row.update(extra)
    return row


def name_row(id_: int, display: str, **extra: Any) -> dict[str, Any]:
    return {"Id": str(id_), "DisplayName": display, "FullyQualifiedName": display, "Active": True,
            "Balance": 0, **extra}


def tax_agency(name: str, registration: str) -> dict[str, Any]:
    return {"Id": str(TAX_AGENCY_ID), "DisplayName": name, "TaxRegistrationNumber": registration,
            "TaxTrackedOnSales": True, "TaxTrackedOnPurchases": True}


def employee(id_: int, given: str, family: str, **extra: Any) -> dict[str, Any]:
    display = f"{given} {family}"
    return {"Id": str(id_), "GivenName": given, "FamilyName": family, "DisplayName": display,
            "PrintOnCheckName": display, "FullyQualifiedName": display, "Active": True, "BillableTime": False,
            **extra}


def budget(id_: int, name: str, year: int, monthly: tuple[tuple[int, str], ...]) -> dict[str, Any]:
    """A yearly profit-and-loss budget: the same amount every month for each (account id, amount)."""
    details = [{"BudgetDate": f"{year}-{month:02d}-01", "Amount": Decimal(amount), "AccountRef": ref(account_id)}
               for account_id, amount in monthly for month in range(1, 13)]
    return {"Id": str(id_), "Name": name, "StartDate": f"{year}-01-01", "EndDate": f"{year}-12-31",
            "BudgetType": "ProfitAndLoss", "BudgetEntryType": "Monthly", "Active": True, "BudgetDetail": details}


def tax_rate(id_: int, name: str, rate: str, agency: str = str(TAX_AGENCY_ID), **extra: Any) -> dict[str, Any]:
    return {"Id": str(id_), "Name": name, "Description": name, "RateValue": Decimal(rate),
            "AgencyRef": {"value": agency}, "SpecialTaxType": "NONE", "DisplayType": "ReadOnly",
            "Active": True, **extra}


def tax_code(id_: str | int, name: str, sales: tuple[int, ...], purchase: tuple[int, ...],
             taxable: bool = True) -> dict[str, Any]:
    def rate_list(ids: tuple[int, ...], applicable: str) -> dict[str, Any]:
        return {"TaxRateDetail": [{"TaxRateRef": {"value": str(rate)}, "TaxTypeApplicable": applicable,
                                   "TaxOrder": 0} for rate in ids]}
    return {"Id": str(id_), "Name": name, "Description": name, "Active": True, "Hidden": False,
            "Taxable": taxable, "TaxGroup": False, "SalesTaxRateList": rate_list(sales, "TaxOnAmount"),
            "PurchaseTaxRateList": rate_list(purchase, "TaxOnAmount")}


def with_rate_names(codes: tuple[dict[str, Any], ...], rates: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    """Tax codes whose rate references carry the rate's name, as QBO's answers do (``TaxRateRef.name``)."""
    names = {str(rate["Id"]): rate.get("Name") for rate in rates}
    for code in codes:
        for side in ("SalesTaxRateList", "PurchaseTaxRateList"):
            for detail in (code.get(side) or {}).get("TaxRateDetail") or ():
                ref_ = detail.get("TaxRateRef") or {}
                if ref_.get("value") in names and names[ref_["value"]]:
                    ref_["name"] = names[ref_["value"]]
    return codes
