"""The French company: VAT 20 / 10 / 5.5 / 2.1 / 0 %, PCG accounts, EUR, custom transaction numbers on.

VAT codes, names and ids are the sandbox's own (QBO France's real names are not documented);
each code has a sales rate (TVA collectée) and a purchase rate (TVA déductible).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

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

__all__ = ["FR", "FR_DEMO"]

_ADDR_PARIS = {"Line1": "12 rue des Lilas", "City": "Paris", "PostalCode": "75011", "Country": "FR"}

ACCOUNTS = (
    account(1, "Banque principale", "Bank", "Checking", "512000", "Asset"),
    account(2, "Banque secondaire", "Bank", "Savings", "512100", "Asset"),
    account(3, "Carte bancaire entreprise", "Credit Card", "CreditCard", "512200", "Liability"),
    account(4, "Clients", "Accounts Receivable", "AccountsReceivable", "411000", "Asset"),
    account(5, "Fournisseurs", "Accounts Payable", "AccountsPayable", "401000", "Liability"),
    account(6, "Fonds non déposés", "Other Current Asset", "UndepositedFunds", "580000", "Asset"),
    account(7, "TVA collectée", "Other Current Liability", "GlobalTaxPayable", "445710", "Liability"),
    account(8, "TVA déductible", "Other Current Asset", "OtherCurrentAssets", "445660", "Asset"),
    account(9, "Achats de marchandises", "Cost of Goods Sold", "SuppliesMaterialsCogs", "607000"),
    account(10, "Fournitures administratives", "Expense", "OfficeGeneralAdministrativeExpenses", "606400"),
    account(11, "Locations immobilières", "Expense", "RentOrLeaseOfBuildings", "613200"),
    account(12, "Frais postaux et télécommunications", "Expense", "OfficeGeneralAdministrativeExpenses", "626000"),
    account(13, "Services bancaires", "Expense", "BankCharges", "627000"),
    account(14, "Honoraires", "Expense", "LegalProfessionalFees", "622600"),
    account(15, "Prestations de services", "Income", "ServiceFeeIncome", "706000", "Revenue"),
    account(16, "Ventes de marchandises", "Income", "SalesOfProductIncome", "707000", "Revenue"),
    account(17, "Capital", "Equity", "OwnersEquity", "101000", "Equity"),
    account(18, "Énergie", "Expense", "Utilities", "606100"),
)

TAX_RATES = (
    tax_rate(21, "TVA collectée 20 %", "20"), tax_rate(22, "TVA déductible 20 %", "20"),
    tax_rate(23, "TVA collectée 10 %", "10"), tax_rate(24, "TVA déductible 10 %", "10"),
    tax_rate(25, "TVA collectée 5,5 %", "5.5"), tax_rate(26, "TVA déductible 5,5 %", "5.5"),
    tax_rate(27, "TVA collectée 2,1 %", "2.1"), tax_rate(28, "TVA déductible 2,1 %", "2.1"),
    tax_rate(29, "Exonéré 0 %", "0", SpecialTaxType="ZERO_RATE"),
)

TAX_CODES = (
    tax_code(31, "TVA 20 %", (21,), (22,)), tax_code(32, "TVA 10 %", (23,), (24,)),
    tax_code(33, "TVA 5,5 %", (25,), (26,)), tax_code(34, "TVA 2,1 %", (27,), (28,)),
    tax_code(35, "TVA 0 % (exonéré)", (29,), (29,), taxable=False),
)


def _customer(id_: int, name: str, email: str, city: str, postal: str) -> dict[str, object]:
    return name_row(id_, name, CompanyName=name, PrimaryEmailAddr={"Address": email},
                    BillAddr={"Line1": f"{id_} avenue de la République", "City": city, "PostalCode": postal,
                              "Country": "FR"}, Taxable=True, CurrencyRef=ref("EUR", "Euro"))


def _vendor(id_: int, name: str, email: str) -> dict[str, object]:
    return name_row(id_, name, CompanyName=name, PrimaryEmailAddr={"Address": email},
                    CurrencyRef=ref("EUR", "Euro"), Vendor1099=False)


def _item(id_: int, name: str, kind: str, price: str, income: int, code: int,  # noqa: PLR0917
          **extra: object) -> dict[str, object]:
    return {"Id": str(id_), "Name": name, "FullyQualifiedName": name, "Type": kind, "Active": True,
            "UnitPrice": Decimal(price), "IncomeAccountRef": ref(income), "SalesTaxCodeRef": ref(code),
            "Taxable": True, "TrackQtyOnHand": False, **extra}


FR = Preset(
    name="fr", country="FR", timezone="Europe/Paris",
    rows={
        "Account": ACCOUNTS,
        "TaxRate": TAX_RATES,
        "TaxCode": with_rate_names(TAX_CODES, TAX_RATES),
        "TaxAgency": (tax_agency("Direction générale des Finances publiques", "FR40123456789"),),
        "Employee": (employee(65, "Camille", "Durand", EmployeeNumber="S-1"),),
        "Budget": (budget(19, "Budget 2025", 2025, ((15, "12000"), (11, "2500"))),),
        "Class": ({"Id": "41", "Name": "Conseil", "FullyQualifiedName": "Conseil", "SubClass": False, "Active": True},
                  {"Id": "42", "Name": "Formation", "FullyQualifiedName": "Formation", "SubClass": False,
                   "Active": True}),
        "Department": ({"Id": "43", "Name": "Paris", "FullyQualifiedName": "Paris", "SubDepartment": False,
                        "Active": True},
                       {"Id": "44", "Name": "Lyon", "FullyQualifiedName": "Lyon", "SubDepartment": False,
                        "Active": True}),
        "Term": ({"Id": "45", "Name": "Paiement à réception", "DueDays": 0, "Type": "STANDARD", "Active": True},
                 {"Id": "46", "Name": "Net 30", "DueDays": 30, "Type": "STANDARD", "Active": True},
                 {"Id": "47", "Name": "Net 45", "DueDays": 45, "Type": "STANDARD", "Active": True}),
        "PaymentMethod": ({"Id": "48", "Name": "Virement", "Type": "NON_CREDIT_CARD", "Active": True},
                          {"Id": "49", "Name": "Chèque", "Type": "NON_CREDIT_CARD", "Active": True},
                          {"Id": "50", "Name": "Carte bancaire", "Type": "CREDIT_CARD", "Active": True},
                          {"Id": "51", "Name": "Espèces", "Type": "NON_CREDIT_CARD", "Active": True}),
        "Customer": (_customer(52, "Boulangerie Martin", "contact@boulangerie-martin.example", "Paris", "75003"),
                     _customer(53, "Cabinet Leroy Avocats", "compta@leroy-avocats.example", "Lyon", "69002"),
                     _customer(54, "Mairie de Villeneuve", "finances@villeneuve.example", "Villeneuve", "47300"),
                     _customer(55, "Studio Moreau", "hello@studio-moreau.example", "Nantes", "44000")),
        "Vendor": (_vendor(56, "Papeterie Durand", "ventes@papeterie-durand.example"),
                   _vendor(57, "Énergie Plus", "factures@energie-plus.example"),
                   _vendor(58, "Télécom Services", "facturation@telecom-services.example"),
                   _vendor(59, "SCI Les Tilleuls", "gestion@sci-tilleuls.example")),
        "Item": (_item(60, "Conseil", "Service", "150", 15, 31, Description="Prestation de conseil (heure)"),
                 _item(61, "Formation", "Service", "900", 15, 31, Description="Journée de formation"),
                 _item(62, "Livre technique", "NonInventory", "35", 16, 33, ExpenseAccountRef=ref(9)),
                 _item(63, "Restauration", "Service", "25", 16, 32),
                 _item(64, "Abonnement presse", "NonInventory", "12", 16, 34, ExpenseAccountRef=ref(9))),
        "Preferences": ({
            "Id": "1",
            "AccountingInfoPrefs": {"TrackDepartments": True, "DepartmentTerminology": "Location",
                                    "ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": True,
                                    "UseAccountNumbers": True, "FirstMonthOfFiscalYear": "January",
                                    "CustomerTerminology": "Customers"},
            "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowDiscount": True, "AllowShipping": False,
                                "AllowDeposit": False, "DefaultTerms": ref(46)},
            "VendorAndPurchasesPrefs": {"TrackingByCustomer": False, "BillableExpenseTracking": False,
                                        "DefaultTerms": ref(46), "UseCustomTxnNumbers": True},
            "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": False},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": ref("EUR")},
            "OtherPrefs": {"NameValue": [{"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                                         {"Name": "WarnDuplicateBillNumber", "Value": "true"}]},
        },),
        "CompanyInfo": ({
            "Id": "1", "CompanyName": "Atelier Lumière SARL", "LegalName": "Atelier Lumière SARL",
            "CompanyAddr": _ADDR_PARIS, "LegalAddr": _ADDR_PARIS, "Country": "FR",
            "Email": {"Address": "compta@atelier-lumiere.example"}, "FiscalYearStartMonth": "January",
            "SupportedLanguages": "fr", "CompanyStartDate": "2020-01-01",
            "NameValue": [{"Name": "CompanyType", "Value": "SARL"}],
        },),
    },
)


def _bill(number: str, vendor: tuple[int, str], dates: tuple[str, str], lines: tuple[tuple[str, int], ...]
          ) -> dict[str, object]:
    """An open supplier bill, excl. VAT 20 % (purchase code 31): (amount, expense account) per line."""
    return {"VendorRef": ref(*vendor), "DocNumber": number, "TxnDate": dates[0], "DueDate": dates[1],
            "GlobalTaxCalculation": "TaxExcluded",
            "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal(amount),
                      "AccountBasedExpenseLineDetail": {"AccountRef": ref(account_id), "TaxCodeRef": ref(31)}}
                     for amount, account_id in lines]}


FR_DEMO = replace(FR, name="fr-demo", samples={"Bill": (
    _bill("PD-2025-031", (56, "Papeterie Durand"), ("2025-03-03", "2025-04-02"), (("184.50", 10),)),
    _bill("EP-7781", (57, "Énergie Plus"), ("2025-03-10", "2025-04-09"), (("312.00", 18),)),
    _bill("TS-2025-03", (58, "Télécom Services"), ("2025-03-15", "2025-04-14"), (("59.90", 12), ("20.00", 12))),
)})
