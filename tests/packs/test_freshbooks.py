"""FreshBooks pack end to end: the real runtime reads the FreshBooks fake over the pack's http connection and
writes to the in-process QBO sandbox; one test (at least) per FEATURES.md id F1-F21.

Fixtures (tests/fakes/specs/freshbooks.py): a bakery's January. Invoices 1201 paid, 1202 sent (no due date),
1203 draft, 1204 partial (three lines without description; FreshBooks' per-line VAT makes its total 9.03 where
QBO's per-rate VAT gives 9.02), 1205 auto-paid (a 1.00 discount); payments 301 (1201, Credit Card), 304 (1204,
Cash, partial), 305 (1205, Bank Transfer); expenses 71 (Moulins Bourgeois, Office Supplies, VAT 20), 72 (EDF,
Utilities, VAT 20), 73 (La Poste, Telephone, no tax). Products (the FreshBooks items list): BAG-TRAD, CRO-BEUR,
PAIN-CHOC are stock items with SKUs PAIN-001, VIEN-001, VIEN-002; CHAUSSON has no SKU and no stock; TRAITEUR is
a service with SKU SERV-001; GAT-ANNIV (the draft 1203) is typed on its invoice. The bakery's QBO company has an
inventory asset account (Stocks de marchandises) beside the French preset's accounts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

import engine.cli.run
from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, create_app, sandbox_of, serve
from connectors.sandbox.testing import TEST_TOKEN, test_config
from engine.cli.main import cli
from tests.fakes.product import FakeProduct
from tests.fakes.server import serve_app
from tests.fakes.specs import freshbooks as fb
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules/freshbooks"
TOKEN_ENV = "TEST_FRESHBOOKS_TOKEN"
ENV = {TOKEN_ENV: fb.TOKEN}
REALM = DEFAULT_REALM_IDS["fr"]
SOURCE_TOTAL = {str(i["invoiceid"]): Decimal(i["amount"]["amount"]) for i in fb.INVOICES}


def write_profile(folder: Path, settings: dict[str, Any] | None = None, tables: dict[str, Any] | None = None,
                  name: str = "bakery") -> Path:
    """A customer profile over the shipped pack (JSON is YAML), reading the fake's account with a token from env."""
    body: dict[str, Any] = {"passerelle": 1, "kind": "profile", "profile": {"name": name}, "pack": str(PACK),
                            "settings": {"account_id": fb.ACCOUNT, **(settings or {})},
                            "secrets": {"api_token": {"env": TOKEN_ENV}}}
    if tables:
        body["tables"] = tables
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@contextmanager
def bakery(tmp_path: Path, settings: dict[str, Any] | None = None, tables: dict[str, Any] | None = None, *,
           fake: FakeProduct | None = None, prepare: Any = None) -> Iterator[tuple[PackRun, FakeProduct]]:
    fake = fake or FakeProduct(fb.spec(items=fb.ITEMS))
    with pack_run(write_profile(tmp_path, settings, tables), products={"product": fake}, env=ENV) as run:
        stock_account(run)
        if prepare is not None:
            prepare(run)
        yield run, fake


STOCK_ACCOUNT = {"Name": "Stocks de marchandises", "AccountType": "Other Current Asset", "AccountSubType": "Inventory",
                 "AcctNum": "370000"}


def stock_account(run: PackRun) -> None:
    """The bakery's inventory asset account (QBO needs one on every Inventory item)."""
    run.sandbox.write(run.realm, "Account", dict(STOCK_ACCOUNT))


def synced(run: PackRun) -> Any:
    plan, report = run.sync()
    assert report.ok, report.failures
    return plan


def by_number(run: PackRun, entity: str = "Invoice") -> dict[str, dict[str, Any]]:
    return {str(doc.get("DocNumber")): doc for doc in run.query(entity)}


def item_lines(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in doc["Line"] if line.get("DetailType") == "SalesItemLineDetail"]


def name_of(ref: dict[str, Any] | None) -> str | None:
    return ref.get("name") if ref else None


def with_invoices(*invoices: dict[str, Any]) -> FakeProduct:
    return FakeProduct(fb.spec(invoices=tuple(invoices), payments=(), expenses=(), items=fb.ITEMS))


ITEMS = {"create_items": True}


# -- F1 workflows ---------------------------------------------------------------------------------------------

def test_F1_invoice_and_expense_workflows_switch_on_separately(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "sync_invoices": True, "sync_expenses": False}) as (run, fake):
        synced(run)
        assert sorted(by_number(run)) == ["1201", "1202", "1204"]
        assert run.query("Bill") == []
        assert len(run.query("Payment")) == 2
        assert not any(r.path.endswith("/expenses/expenses") for r in fake.requests)  # the workflow is off
    with bakery(tmp_path, {"sync_invoices": False, "sync_expenses": True}) as (run, fake):
        synced(run)
        assert run.query("Invoice") == [] and run.query("Payment") == []
        assert sorted(by_number(run, "Bill")) == ["71", "72", "73"]
        assert not any(r.path.endswith("/invoices/invoices") for r in fake.requests)
        assert fake.writes == []  # nothing is ever written back to FreshBooks


# -- F2 statuses ----------------------------------------------------------------------------------------------

def test_F2_only_the_chosen_statuses_are_synced(tmp_path: Path) -> None:
    with bakery(tmp_path, ITEMS) as (run, _):
        plan = synced(run)
        skips = {c.key: c.reason for c in plan.changes if c.flow == "invoices" and c.action == "skip"}
        assert skips == {"1203": "status draft is not synced", "1205": "status auto-paid is not synced"}
        assert sorted(by_number(run)) == ["1201", "1202", "1204"]
    with bakery(tmp_path, {**ITEMS, "invoice_statuses": ["paid", "auto-paid"]}) as (run, _):
        synced(run)
        assert sorted(by_number(run)) == ["1201", "1205"]  # the auto-paid sale is in, the sent one out


# -- F3 document type -----------------------------------------------------------------------------------------

def test_F3_invoices_or_sales_receipts_by_setting(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "document_type": "SalesReceipt"}) as (run, _):
        synced(run)
        receipts = by_number(run, "SalesReceipt")
        assert sorted(receipts) == ["1201", "1202", "1204"]
        assert run.query("Invoice") == [] and run.query("Payment") == []  # a receipt is paid already
        assert all(r["Balance"] == 0 and name_of(r["DepositToAccountRef"]) == "Fonds non déposés"
                   for r in receipts.values())
        assert all("DueDate" not in r for r in receipts.values())
    with bakery(tmp_path, ITEMS) as (run, _):
        synced(run)
        assert sorted(by_number(run)) == ["1201", "1202", "1204"] and run.query("SalesReceipt") == []


# -- F4 prefix ------------------------------------------------------------------------------------------------

def test_F4_invoice_number_prefix(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "invoice_prefix": "FB"}) as (run, _):
        synced(run)
        invoices = by_number(run)
        assert sorted(invoices) == ["FB1201", "FB1202", "FB1204"]
        assert invoices["FB1201"]["PrivateNote"] == "FreshBooks invoice 1201"
        assert not run.plan().has_changes  # found again by number: nothing to redo


# -- F5 class and location ------------------------------------------------------------------------------------

def test_F5_default_class_and_location_on_every_sale(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "default_class": "Formation", "default_location": "Lyon"}) as (run, _):
        synced(run)
        assert {(name_of(i.get("ClassRef")), name_of(i.get("DepartmentRef"))) for i in run.query("Invoice")} == {
            ("Formation", "Lyon")}
    with bakery(tmp_path, ITEMS) as (run, _):
        synced(run)
        assert all("ClassRef" not in i and "DepartmentRef" not in i for i in run.query("Invoice"))


# -- F6 customer modes ----------------------------------------------------------------------------------------

def customers(run: PackRun) -> dict[str, dict[str, Any]]:
    return {c["DisplayName"]: c for c in run.query("Customer")}


def test_F6_customer_is_the_client(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "customer_mode": "client"}) as (run, _):
        synced(run)
        assert {name_of(i["CustomerRef"]) for i in run.query("Invoice")} == {
            "Lucie Bernard", "Marc Petit", "Sophie Laurent"}
        lucie, sophie = customers(run)["Lucie Bernard"], customers(run)["Sophie Laurent"]
        assert (lucie["GivenName"], lucie["FamilyName"], lucie["CompanyName"]) == ("Lucie", "Bernard", "Café du Marché")
        assert lucie["PrimaryEmailAddr"]["Address"] == "lucie@cafedumarche.example"
        assert "CompanyName" not in sophie  # she has no organisation: no empty company name


def test_F6_customer_is_the_organisation_or_the_person_without_one(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "customer_mode": "organization"}) as (run, _):
        synced(run)
        invoices = by_number(run)
        assert name_of(invoices["1201"]["CustomerRef"]) == "Café du Marché"
        assert name_of(invoices["1202"]["CustomerRef"]) == "Hôtel des Arts"
        assert name_of(invoices["1204"]["CustomerRef"]) == "Sophie Laurent"
        made = customers(run)
        assert made["Café du Marché"]["CompanyName"] == "Café du Marché" and "GivenName" not in made["Café du Marché"]
        sophie = made["Sophie Laurent"]
        assert "CompanyName" not in sophie and (sophie["GivenName"], sophie["FamilyName"]) == ("Sophie", "Laurent")


def test_F6_one_generic_customer_for_all_sales(tmp_path: Path) -> None:
    before = None
    with bakery(tmp_path, {**ITEMS, "customer_mode": "generic", "generic_customer": "Ventes en ligne"}) as (run, _):
        before = len(run.query("Customer"))
        synced(run)
        assert {name_of(i["CustomerRef"]) for i in run.query("Invoice")} == {"Ventes en ligne"}
        assert len(run.query("Customer")) == before + 1
        generic = customers(run)["Ventes en ligne"]
        assert "PrimaryEmailAddr" not in generic and "CompanyName" not in generic  # no client's details on it


# -- F7 automatic numbering -----------------------------------------------------------------------------------

def custom_numbers_off(run: PackRun) -> None:
    """What the user does in QuickBooks: Settings > Sales > Custom transaction numbers: Off."""
    current = run.sandbox.read(run.realm, "Preferences", "1")
    run.sandbox.write(run.realm, "Preferences", {"Id": "1", "SyncToken": current["SyncToken"],
                                                 "SalesFormsPrefs": {"CustomTxnNumbers": False}})


def numbering_check(run: PackRun) -> Any:
    return {c.name: c for c in run.checks()}["automatic_numbering_needs_qbo_numbering"]


def test_F7_automatic_numbering_needs_custom_numbers_off(tmp_path: Path) -> None:
    settings = {**ITEMS, "automatic_numbering": True, "invoice_prefix": "FB"}
    with bakery(tmp_path, settings) as (run, _):
        check = numbering_check(run)
        assert not check.ok and check.blocks and "custom transaction numbers" in check.message
    with bakery(tmp_path, settings, prepare=custom_numbers_off) as (run, _):
        assert numbering_check(run).ok
        plan = synced(run)
        assert all("DocNumber" not in c.payload for c in plan.changes if c.flow == "invoices" and c.action == "create")
        numbers = sorted(i["DocNumber"] for i in run.query("Invoice"))
        assert numbers == ["1001", "1002", "1003"]  # QBO's own sequence, FreshBooks' 12xx and the prefix ignored
        assert len(run.query("Payment")) == 2  # payments still find their invoice (through the ledger)
        assert not run.plan().has_changes
    with bakery(tmp_path, ITEMS) as (run, _):  # not asked for: the check does not apply
        assert "automatic_numbering_needs_qbo_numbering" not in {c.name for c in run.checks()}


# -- F8 discounts ---------------------------------------------------------------------------------------------

def test_F8_discounts_without_a_product_use_the_default_discount_product(tmp_path: Path) -> None:
    line_discount = fb.invoice(7, "sent", ("Marc", "Petit", "Hôtel des Arts", None), [
        fb.line(1, "TRAITEUR", "Plateau traiteur", "2", "45.00", "VAT 10"),
        fb.line(2, "", "Remise fidélité", "1", "-9.00", "VAT 10")], "2025-01-07 09:00:00")
    fake = with_invoices(dict(fb.INVOICES[4], v3_status="paid"), line_discount)
    with bakery(tmp_path, {**ITEMS, "discount_item": "Remise"}, fake=fake) as (run, _):
        synced(run)
        invoices = by_number(run)
        discount = [x for x in item_lines(invoices["1205"]) if name_of(x["SalesItemLineDetail"]["ItemRef"]) == "Remise"]
        assert [(x["Amount"], x["Description"]) for x in discount] == [(Decimal("-1.00"), "Discount")]
        remise = item_lines(invoices["1207"])[-1]
        assert (name_of(remise["SalesItemLineDetail"]["ItemRef"]), remise["Amount"], remise["Description"]) == (
            "Remise", Decimal("-9.00"), "Remise fidélité")
        assert [i["Name"] for i in run.query("Item", "Name = 'Remise'")] == ["Remise"]  # created once, shared
        assert invoices["1207"]["TotalAmt"] == Decimal(line_discount["amount"]["amount"]) == Decimal("89.10")


# -- F9 rounding ----------------------------------------------------------------------------------------------

def test_F9_rounding_line_makes_qbo_totals_match_freshbooks_to_the_cent(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "invoice_statuses": ["paid", "sent", "partial", "auto-paid"],
                           "rounding_item": "Écart d'arrondi"}) as (run, _):
        synced(run)
        invoices = by_number(run)
        assert {n: i["TotalAmt"] for n, i in invoices.items()} == {n: SOURCE_TOTAL[n] for n in invoices}
        assert len(invoices) == 4
        rounding = [x for x in item_lines(invoices["1204"]) if x.get("Description") == "Rounding"]
        assert [(x["Amount"], name_of(x["SalesItemLineDetail"]["ItemRef"])) for x in rounding] == [
            (Decimal("0.01"), "Écart d'arrondi")]
        assert name_of(rounding[0]["SalesItemLineDetail"]["TaxCodeRef"]) == "TVA 0 % (exonéré)"
        assert invoices["1204"]["TxnTaxDetail"]["TotalTax"] == Decimal("0.47")  # QBO's VAT, rounded per rate
        assert all(x.get("Description") != "Rounding" for n in ("1201", "1202", "1205")
                   for x in item_lines(invoices[n]))  # no line when the totals already agree


# -- F10 due date ---------------------------------------------------------------------------------------------

def due_dates(run: PackRun) -> dict[str, str | None]:
    return {n: i.get("DueDate") for n, i in by_number(run).items()}


def test_F10_due_date_is_the_invoice_date_plus_the_offset_when_missing(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "due_days": 45}) as (run, _):
        synced(run)
        assert due_dates(run) == {"1201": "2025-01-31",   # FreshBooks' own due date is kept
                                  "1202": "2025-02-16",   # 2025-01-02 + 45 days
                                  "1204": "2025-02-18"}


def test_F10_due_date_type_end_of_month_plus_days(tmp_path: Path) -> None:
    leap = dict(fb.INVOICES[1], invoiceid=1210, invoice_number="1210", create_date="2024-02-14")
    fake = with_invoices(*fb.INVOICES, leap)
    with bakery(tmp_path, {**ITEMS, "due_date_type": "days_after_end_of_month", "due_days": 10}, fake=fake) as (run, _):
        synced(run)
        assert due_dates(run) == {"1201": "2025-01-31", "1202": "2025-02-10", "1204": "2025-02-10",
                                  "1210": "2024-03-10"}  # end of February 2024 (29th) + 10 days
    with bakery(tmp_path, {**ITEMS, "due_date_type": "days_after_end_of_month", "due_days": 0}, fake=fake) as (run, _):
        synced(run)
        assert due_dates(run) == {"1201": "2025-01-31", "1202": "2025-01-31", "1204": "2025-01-31",
                                  "1210": "2024-02-29"}  # 0 days: the end of the invoice's month


def test_F10_no_offset_set_the_invoice_date_is_the_due_date(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "due_date_type": "none", "due_days": 45}) as (run, _):
        synced(run)
        invoices = by_number(run)
        assert due_dates(run) == {"1201": "2025-01-31", "1202": "2025-01-02", "1204": "2025-01-04"}
        assert all(i["DueDate"] == i["TxnDate"] for n, i in invoices.items() if n != "1201")


# -- F11 online card payment ----------------------------------------------------------------------------------

def test_F11_online_card_payment_allowed_by_setting(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "allow_online_card_payment": True}) as (run, _):
        synced(run)
        assert {i.get("AllowOnlineCreditCardPayment") for i in run.query("Invoice")} == {True}
    with bakery(tmp_path, ITEMS) as (run, _):
        synced(run)
        assert {i.get("AllowOnlineCreditCardPayment", False) for i in run.query("Invoice")} == {False}


# -- F12 / F13 items ------------------------------------------------------------------------------------------

# FreshBooks product (line name) -> its SKU in the FreshBooks items list, and the QBO label the shop uses.
SKUS = {"BAG-TRAD": "PAIN-001", "CRO-BEUR": "VIEN-001", "PAIN-CHOC": "VIEN-002", "CHAUSSON": None,
        "TRAITEUR": "SERV-001"}
LABELS = {"BAG-TRAD": "Baguette tradition", "CRO-BEUR": "Croissant pur beurre", "TRAITEUR": "Plateau traiteur",
          "PAIN-CHOC": "Pain au chocolat", "CHAUSSON": "Chausson aux pommes"}


def shop_items(fields: Any) -> Any:
    """QBO items the user made, one per FreshBooks product: ``fields(code)`` gives each one's Name/Sku."""
    def prepare(run: PackRun) -> None:
        for code in SKUS:
            run.sandbox.write(run.realm, "Item", {**fields(code), "Type": "NonInventory",
                                                  "IncomeAccountRef": {"value": "16"}})
    return prepare


def item_names(run: PackRun, number: str) -> list[str | None]:
    return [name_of(x["SalesItemLineDetail"]["ItemRef"]) for x in item_lines(by_number(run)[number])]


def test_F12_items_matched_by_the_freshbooks_sku(tmp_path: Path) -> None:
    by_sku = shop_items(lambda code: {"Name": LABELS[code], "Sku": SKUS[code] or code})
    with bakery(tmp_path, {"item_match": "Sku"}, prepare=by_sku) as (run, fake):
        items_before = {i["Name"] for i in run.query("Item")}
        synced(run)
        assert item_names(run, "1201") == ["Baguette tradition", "Croissant pur beurre"]
        assert item_names(run, "1202") == ["Baguette tradition", "Plateau traiteur"]
        assert item_names(run, "1204")[:3] == ["Croissant pur beurre", "Pain au chocolat", "Chausson aux pommes"]
        assert {i["Name"] for i in run.query("Item")} - items_before == {"Rounding"}  # no product created
        assert sum(r.path.endswith("/items/items") for r in fake.requests) == 1  # the product list, read once


def test_F12_sku_mode_uses_the_sku_field_not_the_product_name(tmp_path: Path) -> None:
    by_name_as_sku = shop_items(lambda code: {"Name": LABELS[code], "Sku": code})  # QBO Sku holds FreshBooks' name
    with bakery(tmp_path, {"item_match": "Sku"}, prepare=by_name_as_sku) as (run, _):
        plan, report = run.sync()
        errors = {c.key: c.error["message"] for c in plan.changes if c.error}
        assert "no Item with Sku = 'PAIN-001'" in errors["1201"] and "no Item with Sku = 'PAIN-001'" in errors["1202"]
        assert "no Item with Sku = 'VIEN-001'" in errors["1204"]
        assert run.query("Invoice") == [] and len(report.failures) == 3


def test_F12_name_mode_matches_the_freshbooks_sku_to_the_qbo_name(tmp_path: Path) -> None:
    named_by_sku = shop_items(lambda code: {"Name": SKUS[code] or code})  # the seed: FreshBooks SKU -> QBO NAME
    with bakery(tmp_path, {"item_match": "Name"}, prepare=named_by_sku) as (run, _):
        items_before = {i["Name"] for i in run.query("Item")}
        synced(run)
        assert item_names(run, "1201") == ["PAIN-001", "VIEN-001"]
        assert item_names(run, "1204")[:3] == ["VIEN-001", "VIEN-002", "CHAUSSON"]  # no SKU: the product's name
        assert {i["Name"] for i in run.query("Item")} - items_before == {"Rounding"}
    named_by_code = shop_items(lambda code: {"Name": code})
    with bakery(tmp_path, {"item_match": "Name"}, prepare=named_by_code) as (run, _):
        plan, _ = run.sync()
        errors = {c.key: c.error["message"] for c in plan.changes if c.error}
        assert "no Item with Name = 'PAIN-001'" in errors["1201"]  # the SKU is matched, not FreshBooks' name


def made_items(run: PackRun) -> dict[str, dict[str, Any]]:
    return {i["Name"]: i for i in run.query("Item") if i["Name"] in SKUS or i["Name"] in {"FARINE-T65", "SACS-KRAFT"}}


def accounts(item: dict[str, Any]) -> tuple[str | None, ...]:
    return tuple(name_of(item.get(f"{kind}AccountRef")) for kind in ("Income", "Expense", "Asset"))


def test_F13_stock_items_created_as_inventory_with_their_three_accounts(tmp_path: Path) -> None:
    settings = {"create_items": True, "item_match": "Sku", "new_item_type": "Service",
                "item_income_account": "Prestations de services", "item_expense_account": "Honoraires",
                "stock_income_account": "Ventes de marchandises", "stock_expense_account": "Achats de marchandises",
                "stock_asset_account": "Stocks de marchandises"}
    with bakery(tmp_path, settings) as (run, _):
        synced(run)
        made = made_items(run)
        assert set(made) == set(SKUS)  # named as in FreshBooks, with FreshBooks' SKU
        assert {n: i.get("Sku") for n, i in made.items()} == {n: s or n for n, s in SKUS.items()}
        for name in ("BAG-TRAD", "CRO-BEUR", "PAIN-CHOC"):
            item = made[name]
            assert (item["Type"], item["TrackQtyOnHand"]) == ("Inventory", True)
            assert accounts(item) == ("Ventes de marchandises", "Achats de marchandises", "Stocks de marchandises")
        assert made["BAG-TRAD"]["InvStartDate"] == "2025-01-01"  # the date of the first invoice selling it
        assert Decimal(str(made["BAG-TRAD"]["QtyOnHand"])) == Decimal(240)  # FreshBooks' stock count
        for name in ("CHAUSSON", "TRAITEUR"):  # no stock tracked in FreshBooks: the non-stock type and accounts
            item = made[name]
            assert (item["Type"], accounts(item)) == ("Service", ("Prestations de services", "Honoraires", None))
            assert "QtyOnHand" not in item and "InvStartDate" not in item
        ids = [x["SalesItemLineDetail"]["ItemRef"]["value"] for x in item_lines(by_number(run)["1201"])]
        assert ids == [made["BAG-TRAD"]["Id"], made["CRO-BEUR"]["Id"]]
        assert not run.plan().has_changes


def test_F13_non_stock_items_and_creation_off(tmp_path: Path) -> None:
    settings = {"create_items": True, "new_item_type": "NonInventory", "item_income_account": "Ventes de marchandises",
                "item_expense_account": "Achats de marchandises"}
    no_stock = FakeProduct(fb.spec(items=tuple(dict(i, inventory=None) for i in fb.ITEMS)))
    with bakery(tmp_path, settings, fake=no_stock) as (run, _):
        synced(run)
        made = {i["Name"]: i for i in run.query("Item") if i.get("Sku") or i["Name"] == "CHAUSSON"}
        assert set(made) == {"PAIN-001", "VIEN-001", "VIEN-002", "CHAUSSON", "SERV-001"}  # Name mode: the SKU
        assert {(i["Type"], accounts(i)) for i in made.values()} == {
            ("NonInventory", ("Ventes de marchandises", "Achats de marchandises", None))}
    with bakery(tmp_path, {"create_items": False}) as (run, _):
        plan, _ = run.sync()
        errors = [c for c in plan.changes if c.flow == "invoices" and c.error]
        assert len(errors) == 3 and "no Item with Name = 'PAIN-001'" in errors[0].error["message"]
        assert run.query("Invoice") == [] and not run.query("Item", "Name = 'PAIN-001'")


def test_F13_a_stock_item_needs_the_asset_account(tmp_path: Path) -> None:
    settings = {"create_items": True, "stock_asset_account": "Stock absent"}
    with bakery(tmp_path, settings) as (run, _):
        plan, _ = run.sync()
        errors = {c.key: c.error["message"] for c in plan.changes if c.error}
        assert sorted(errors) == ["1201", "1202", "1204"] and "no Account with Name = 'Stock absent'" in errors["1201"]


# -- F13 expense workflow: its own option to create missing items ------------------------------------------

FLOUR = {"expenseid": 74, "vendor": "Moulins Bourgeois", "amount": {"amount": "180.00", "code": "EUR"},
         "categoryid": 11, "category_name": "Matières premières", "taxName1": "VAT 10", "taxAmount1": None,
         "notes": "Farine T65, 6 sacs", "date": "2025-01-04", "updated": "2025-01-04 18:00:00"}
BAGS = dict(FLOUR, expenseid=75, amount={"amount": "24.00", "code": "EUR"}, category_name="Emballages",
            taxName1="VAT 20", notes="Sacs kraft")
SUPPLIES = (dict(fb.ITEMS[0], itemid=611, name="FARINE-T65", sku=None, inventory="35"),
            dict(fb.ITEMS[3], itemid=612, name="SACS-KRAFT", sku=None, inventory=None))
BOUGHT = {"expense_products": {"add": {"Matières premières": "FARINE-T65", "Emballages": "SACS-KRAFT"}}}
EXPENSE_ITEMS = {"sync_invoices": False, "sync_expenses": True, "create_items": False,
                 "expense_item_income_account": "Prestations de services",
                 "expense_item_expense_account": "Fournitures administratives",
                 "expense_stock_income_account": "Ventes de marchandises",
                 "expense_stock_expense_account": "Achats de marchandises",
                 "expense_stock_asset_account": "Stocks de marchandises"}


def supplier_fake() -> FakeProduct:
    return FakeProduct(fb.spec(invoices=(), payments=(), expenses=(*fb.EXPENSES, FLOUR, BAGS),
                               items=(*fb.ITEMS, *SUPPLIES)))


def test_F13_expense_workflow_creates_missing_items_by_its_own_option(tmp_path: Path) -> None:
    with bakery(tmp_path, {**EXPENSE_ITEMS, "expense_create_items": True}, BOUGHT, fake=supplier_fake()) as (run, _):
        synced(run)
        bills = by_number(run, "Bill")
        assert sorted(bills) == ["71", "72", "73", "74", "75"]
        line = bills["74"]["Line"][0]
        assert line["DetailType"] == "ItemBasedExpenseLineDetail" and line["Amount"] == Decimal("180.00")
        assert name_of(line["ItemBasedExpenseLineDetail"]["ItemRef"]) == "FARINE-T65"
        assert bills["71"]["Line"][0]["DetailType"] == "AccountBasedExpenseLineDetail"  # no product: an account
        made = made_items(run)
        assert (made["FARINE-T65"]["Type"], accounts(made["FARINE-T65"])) == (
            "Inventory", ("Ventes de marchandises", "Achats de marchandises", "Stocks de marchandises"))
        assert made["FARINE-T65"]["InvStartDate"] == "2025-01-04"
        assert (made["SACS-KRAFT"]["Type"], accounts(made["SACS-KRAFT"])) == (
            "NonInventory", ("Prestations de services", "Fournitures administratives", None))


def test_F13_expense_items_not_created_when_only_the_invoice_option_is_on(tmp_path: Path) -> None:
    settings = {**EXPENSE_ITEMS, "create_items": True, "expense_create_items": False}
    with bakery(tmp_path, settings, BOUGHT, fake=supplier_fake()) as (run, _):
        plan, _ = run.sync()
        errors = {c.key: c.error["message"] for c in plan.changes if c.error}
        assert sorted(errors) == ["74", "75"] and "no Item with Name = 'FARINE-T65'" in errors["74"]
        assert sorted(by_number(run, "Bill")) == ["71", "72", "73"]  # the others still go
        assert not run.query("Item", "Name = 'FARINE-T65'")


# -- F14 sales taxes ------------------------------------------------------------------------------------------

def test_F14_sales_tax_table_maps_each_freshbooks_tax(tmp_path: Path) -> None:
    with bakery(tmp_path, ITEMS) as (run, _):
        synced(run)
        lines = item_lines(by_number(run)["1202"])
        assert [name_of(x["SalesItemLineDetail"]["TaxCodeRef"]) for x in lines] == ["TVA 5,5 %", "TVA 10 %"]
        assert by_number(run)["1202"]["TxnTaxDetail"]["TotalTax"] == Decimal("11.64")
    tables = {"sales_taxes": {"replace": {"VAT 10": "TVA 20 %"}}}  # this customer's "VAT 10" is really 20 %
    with bakery(tmp_path, ITEMS, tables) as (run, _):
        plan, _ = run.sync()
        lines = item_lines(by_number(run)["1202"])
        assert name_of(lines[1]["SalesItemLineDetail"]["TaxCodeRef"]) == "TVA 20 %"
    tables = {"sales_taxes": {"remove": ["VAT 10"]}}  # a tax with no row: the record fails, the others go
    with bakery(tmp_path, ITEMS, tables) as (run, _):
        plan, _ = run.sync()
        errors = {c.key: c.error["message"] for c in plan.changes if c.error}
        assert list(errors) == ["1202"] and "table 'sales_taxes' has no row for 'VAT 10'" in errors["1202"]
        assert sorted(by_number(run)) == ["1201", "1204"]


# -- F15 payments ---------------------------------------------------------------------------------------------

def test_F15_payments_linked_to_their_sale_with_a_clearing_account_per_method(tmp_path: Path) -> None:
    settings = {**ITEMS, "invoice_statuses": ["paid", "partial", "auto-paid"]}
    tables = {"clearing_accounts": {"replace": {"Bank Transfer": "Banque principale"},
                                    "add": {"Cash": "Fonds non déposés"}}}
    with bakery(tmp_path, settings, tables) as (run, fake):
        synced(run)
        invoices = {i["Id"]: i for i in run.query("Invoice")}
        payments = {p["PaymentRefNum"]: p for p in run.query("Payment")}
        assert sorted(payments) == ["FB-PAY-301", "FB-PAY-304", "FB-PAY-305"]
        linked = {ref: invoices[p["Line"][0]["LinkedTxn"][0]["TxnId"]]["DocNumber"] for ref, p in payments.items()}
        assert linked == {"FB-PAY-301": "1201", "FB-PAY-304": "1204", "FB-PAY-305": "1205"}
        deposit = {ref: name_of(p["DepositToAccountRef"]) for ref, p in payments.items()}
        assert deposit == {"FB-PAY-301": "Banque secondaire", "FB-PAY-304": "Fonds non déposés",
                           "FB-PAY-305": "Banque principale"}
        assert {ref: p["CustomerRef"] for ref, p in payments.items()}["FB-PAY-301"] == by_number(run)["1201"]["CustomerRef"]
        balances = {i["DocNumber"]: i["Balance"] for i in invoices.values()}
        assert balances == {"1201": 0, "1204": Decimal("4.03"), "1205": 0}
        assert fake.writes == []
        assert not run.plan().has_changes


def test_F15_payments_off_by_setting(tmp_path: Path) -> None:
    with bakery(tmp_path, {**ITEMS, "sync_payments": False}) as (run, _):
        synced(run)
        assert run.query("Payment") == [] and len(run.query("Invoice")) == 3


# -- F16-F19 expenses -----------------------------------------------------------------------------------------

EXPENSES = {"sync_invoices": False, "sync_expenses": True}


def test_F16_expenses_become_bills_with_due_offset_class_and_location(tmp_path: Path) -> None:
    settings = {**EXPENSES, "bill_due_days": 15, "expense_class": "Formation", "expense_location": "Paris"}
    with bakery(tmp_path, settings) as (run, fake):
        synced(run)
        bills = by_number(run, "Bill")
        assert sorted(bills) == ["71", "72", "73"]
        flour = bills["71"]
        assert (flour["TxnDate"], flour["DueDate"]) == ("2025-01-01", "2025-01-16")
        assert name_of(flour["VendorRef"]) == "Moulins Bourgeois" and name_of(flour["DepartmentRef"]) == "Paris"
        detail = flour["Line"][0]["AccountBasedExpenseLineDetail"]
        assert name_of(detail["ClassRef"]) == "Formation" and flour["Line"][0]["Description"] == "Farine T65, 10 sacs"
        assert {v["DisplayName"] for v in run.query("Vendor")} >= {"Moulins Bourgeois", "EDF", "La Poste"}
        assert fake.writes == []


def test_F17_purchase_number_prefix(tmp_path: Path) -> None:
    with bakery(tmp_path, {**EXPENSES, "purchase_prefix": "ACH-"}) as (run, _):
        synced(run)
        assert sorted(by_number(run, "Bill")) == ["ACH-71", "ACH-72", "ACH-73"]
        assert not run.plan().has_changes


def test_F18_expense_tax_table(tmp_path: Path) -> None:
    with bakery(tmp_path, EXPENSES) as (run, _):
        synced(run)
        bills = by_number(run, "Bill")
        codes = {n: name_of(b["Line"][0]["AccountBasedExpenseLineDetail"]["TaxCodeRef"]) for n, b in bills.items()}
        assert codes == {"71": "TVA 20 %", "72": "TVA 20 %", "73": "TVA 0 % (exonéré)"}
        assert (bills["71"]["TotalAmt"], bills["73"]["TotalAmt"]) == (Decimal("288.00"), Decimal("9.90"))
    with bakery(tmp_path, EXPENSES, {"expense_taxes": {"replace": {"VAT 20": "TVA 10 %"}}}) as (run, _):
        synced(run)
        assert by_number(run, "Bill")["71"]["TotalAmt"] == Decimal("264.00")


def test_F19_expense_categories_map_to_expense_accounts(tmp_path: Path) -> None:
    tables = {"expense_categories": {"add": {"Utilities": "Énergie"}}}
    with bakery(tmp_path, EXPENSES, tables) as (run, _):
        synced(run)
        accounts = {n: name_of(b["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"])
                    for n, b in by_number(run, "Bill").items()}
        assert accounts == {"71": "Fournitures administratives", "72": "Énergie",
                            "73": "Frais postaux et télécommunications"}
    with bakery(tmp_path, EXPENSES) as (run, _):  # a category without a row goes to the table's default account
        synced(run)
        bill = by_number(run, "Bill")["72"]
        assert name_of(bill["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]) == "Fournitures administratives"


# -- F20 start date -------------------------------------------------------------------------------------------

def test_F20_nothing_dated_before_the_start_date_is_synced(tmp_path: Path) -> None:
    settings = {**ITEMS, "sync_expenses": True, "start_date": "2025-01-03",
                "invoice_statuses": ["paid", "sent", "partial", "auto-paid"]}
    with bakery(tmp_path, settings) as (run, _):
        plan = synced(run)
        reasons = {(c.flow, c.key): c.reason for c in plan.changes if c.action == "skip"}
        assert reasons[("invoices", "1201")] == "dated 2025-01-01, before the start date 2025-01-03"
        assert reasons[("invoices", "1202")] == "dated 2025-01-02, before the start date 2025-01-03"
        assert reasons[("expenses", "71")] == "dated 2025-01-01, before the start date 2025-01-03"
        assert sorted(by_number(run)) == ["1204", "1205"]
        assert sorted(by_number(run, "Bill")) == ["73"]


# -- F21 hourly sync ------------------------------------------------------------------------------------------

# engine gap: engine/cli/session.py open_session closes the QBO client but never the product sources, so the
# http connection's sockets are left to the garbage collector (a ResourceWarning over real HTTP). Reported.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_F21_hourly_sync_picks_up_what_freshbooks_changed_since(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    fake = FakeProduct(fb.spec(items=fb.ITEMS))
    new_sale = fb.invoice(8, "sent", ("Lucie", "Bernard", "Café du Marché", None),
                          [fb.line(1, "BAG-TRAD", "Baguette tradition", "50", "1.20", "VAT 5.5")], "2025-01-08 07:00:00")
    waits: list[float] = []

    def an_hour_passes(seconds: float) -> None:  # in that hour, a new invoice is sent in FreshBooks
        waits.append(seconds)
        fake.records["invoices"].append(new_sale)

    monkeypatch.setattr(engine.cli.run, "time", SimpleNamespace(sleep=an_hour_passes))  # only the scheduler's wait
    forget_limiters()
    app = create_app(test_config())
    try:
        with serve(app) as qbo_url, serve_app(fake.app) as fb_url:
            sandbox_of(app).write(REALM, "Account", dict(STOCK_ACCOUNT))
            profile = write_profile(tmp_path, {**ITEMS, "api_url": fb_url})
            for name, value in {"PASSERELLE_QBO_BASE_URL": qbo_url, "PASSERELLE_QBO_REALM": REALM,
                                "PASSERELLE_QBO_ACCESS_TOKEN": TEST_TOKEN, "PASSERELLE_STATE": str(tmp_path / "s.db"),
                                TOKEN_ENV: fb.TOKEN}.items():
                monkeypatch.setenv(name, value)
            result = CliRunner().invoke(cli, ["sync", str(profile), "--every", "1h", "--times", "2"])
            assert result.exit_code == 0, result.output
            assert "Traceback" not in result.output and "next run in 1h" in result.output
            assert waits == [3600]
            invoices = sandbox_of(app).query(REALM, "SELECT * FROM Invoice").get("Invoice", [])
            assert sorted(i["DocNumber"] for i in invoices) == ["1201", "1202", "1204", "1208"]
            reads = [r.query.get("search[updated_min]") for r in fake.requests if r.path.endswith("/invoices/invoices")]
            assert reads == [None, "2025-01-06 17:45:00"]  # the second run asks only for what changed since
            assert fake.writes == []
    finally:
        sandbox_of(app).close()
        forget_limiters()


def test_F21_the_pack_schedules_an_hourly_sync(tmp_path: Path) -> None:
    with bakery(tmp_path) as (run, _):
        schedule = run.session.loaded.resolved.schedule
        assert schedule.every == "1h" and schedule.start_date_setting == "start_date"
