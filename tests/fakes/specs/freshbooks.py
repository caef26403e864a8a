"""FreshBooks, from its published API: ``/accounting/account/{account_id}/<kind>/<kind>`` lists nested as
``{"response": {"result": {"invoices": [...], "page", "pages", "per_page", "total"}}}``, ``page``/``per_page``
paging, ``search[updated_min]`` for changes, writes wrapped as ``{"invoice": {...}}``.

The fixtures are a French bakery's January: invoices with their lines (item ``name`` — the shop uses product
codes there —, ``description``, ``qty``, ``unit_cost``, ``amount`` and the line's tax as ``taxName1`` with its
percentage in ``taxAmount1``), the client (``fname``, ``lname``, ``organization``, ``email``), the invoice
total with tax in ``amount`` and a discount in ``discount_total``; payments of those invoices with their method
(``type``); expenses with vendor, category, tax and notes; the product list (``items``: ``name`` unique, the
shop's ``sku`` reference, ``inventory`` the stock count of a product whose stock FreshBooks tracks, null
otherwise), which invoice lines name by ``name``. Totals are FreshBooks': tax is rounded per line, so
an invoice may differ by a cent from QuickBooks' per-rate tax (which is what the rounding line is for)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

ACCOUNT = "x7Kp2"
TOKEN = "fb-test-token-7f3a"
_META = {"page": "response.result.page", "pages": "response.result.pages", "per_page": "response.result.per_page",
         "total": "response.result.total"}
_CENT = Decimal("0.01")
_RATES = {"VAT 20": "20", "VAT 10": "10", "VAT 5.5": "5.5", None: "0"}


def line(lineid: int, name: str, description: str | None, qty: str, unit: str,  # noqa: PLR0917
         tax: str | None) -> dict[str, Any]:
    """A FreshBooks invoice line; ``amount`` is qty x unit cost, ``taxAmount1`` the tax's percentage."""
    net = (Decimal(qty) * Decimal(unit)).quantize(_CENT, ROUND_HALF_UP)
    return {"lineid": lineid, "name": name, "description": description, "qty": qty,
            "unit_cost": {"amount": unit, "code": "EUR"}, "amount": {"amount": str(net), "code": "EUR"},
            "taxName1": tax, "taxAmount1": _RATES[tax]}


def invoice(n: int, status: str, client: tuple[str, str, str, str | None], lines: list[dict[str, Any]],
            updated: str, *, discount: str = "0", due: str | None = None) -> dict[str, Any]:
    """An invoice whose ``amount`` FreshBooks computed: lines + discount + tax rounded line by line."""
    fname, lname, organization, email = client
    nets = [Decimal(x["amount"]["amount"]) for x in lines]
    share = Decimal(discount) / sum(nets) if sum(nets) else Decimal(0)
    tax = sum(((net * (1 + share) * Decimal(x["taxAmount1"]) / 100).quantize(_CENT, ROUND_HALF_UP)
               for net, x in zip(nets, lines, strict=True)), Decimal(0))
    total = sum(nets, Decimal(0)) + Decimal(discount) + tax
    return {"invoiceid": 1200 + n, "invoice_number": f"{1200 + n}", "v3_status": status,
            "create_date": f"2025-01-0{n}", "due_date": due, "fname": fname, "lname": lname,
            "organization": organization, "email": email, "currency_code": "EUR",
            "amount": {"amount": str(total), "code": "EUR"}, "discount_total": {"amount": discount, "code": "EUR"},
            "updated": updated, "lines": lines}


_BAKERY = ("Lucie", "Bernard", "Café du Marché", "lucie@cafedumarche.example")
_HOTEL = ("Marc", "Petit", "Hôtel des Arts", "compta@hoteldesarts.example")
_PERSON = ("Sophie", "Laurent", "", "sophie.laurent@example.org")

INVOICES = (
    invoice(1, "paid", _BAKERY, [line(1, "BAG-TRAD", "Baguette tradition", "120", "1.20", "VAT 5.5"),
                                 line(2, "CRO-BEUR", "Croissant pur beurre", "60", "1.10", "VAT 5.5")],
            "2025-01-02 09:00:00", due="2025-01-31"),
    invoice(2, "sent", _HOTEL, [line(1, "BAG-TRAD", "Baguette tradition", "40", "1.20", "VAT 5.5"),
                                line(2, "TRAITEUR", "Plateau traiteur", "2", "45.00", "VAT 10")],
            "2025-01-03 10:30:00"),
    invoice(3, "draft", _PERSON, [line(1, "GAT-ANNIV", "Gâteau d'anniversaire", "1", "32.00", "VAT 5.5")],
            "2025-01-03 11:00:00"),
    invoice(4, "partial", _PERSON, [line(1, "CRO-BEUR", None, "3", "0.95", "VAT 5.5"),
                                    line(2, "PAIN-CHOC", None, "3", "0.95", "VAT 5.5"),
                                    line(3, "CHAUSSON", None, "3", "0.95", "VAT 5.5")],
            "2025-01-05 08:15:00"),
    invoice(5, "auto-paid", _BAKERY, [line(1, "BAG-TRAD", "Baguette tradition", "5", "1.20", "VAT 5.5"),
                                      line(2, "PAIN-CHOC", "Pain au chocolat", "2", "1.25", "VAT 5.5")],
            "2025-01-06 17:45:00", discount="-1.00"),
)
PAYMENTS = (
    {"paymentid": 301, "invoiceid": 1201, "amount": dict(INVOICES[0]["amount"]), "type": "Credit Card",
     "date": "2025-01-02", "updated": "2025-01-02 12:00:00"},
    {"paymentid": 304, "invoiceid": 1204, "amount": {"amount": "5.00", "code": "EUR"}, "type": "Cash",
     "date": "2025-01-05", "updated": "2025-01-05 12:00:00"},
    {"paymentid": 305, "invoiceid": 1205, "amount": dict(INVOICES[4]["amount"]), "type": "Bank Transfer",
     "date": "2025-01-06", "updated": "2025-01-06 12:00:00"},
)
EXPENSES = tuple({"expenseid": 70 + n, "vendor": v, "amount": {"amount": a, "code": "EUR"}, "categoryid": c,
                  "category_name": cat, "taxName1": tax, "taxAmount1": None, "notes": note,
                  "date": f"2025-01-0{n}", "updated": f"2025-01-0{n} 18:00:00"}
                 for n, v, a, c, cat, tax, note in [
                     (1, "Moulins Bourgeois", "240.00", 5, "Office Supplies", "VAT 20", "Farine T65, 10 sacs"),
                     (2, "EDF", "61.37", 7, "Utilities", "VAT 20", "Électricité décembre"),
                     (3, "La Poste", "9.90", 9, "Telephone", None, None)])

# The shop's products: bread and pastries are stock items with a shop reference (SKU) that differs from the
# code the lines carry as name; the turnover has no SKU; catering is a service; the birthday cake (GAT-ANNIV,
# invoice 1203) is typed on its invoice, with no product.
ITEMS = tuple({"itemid": 600 + n, "name": name, "description": label, "sku": sku, "inventory": stock, "qty": "1",
               "unit_cost": {"amount": price, "code": "EUR"}, "updated": "2024-12-20 10:00:00"}
              for n, name, label, sku, stock, price in [
                  (1, "BAG-TRAD", "Baguette tradition", "PAIN-001", "240", "1.20"),
                  (2, "CRO-BEUR", "Croissant pur beurre", "VIEN-001", "180", "1.10"),
                  (3, "PAIN-CHOC", "Pain au chocolat", "VIEN-002", "150", "1.25"),
                  (4, "CHAUSSON", "Chausson aux pommes", None, None, "0.95"),
                  (5, "TRAITEUR", "Plateau traiteur", "SERV-001", None, "45.00")])


def _resource(kind: str, idf: str, records: tuple[dict[str, Any], ...], single: str) -> FakeResource:
    base = f"/accounting/account/{{account_id}}/{kind}/{kind}"
    return FakeResource(
        name=kind, path=base, records=records, id=idf, paging="page", page_size=100, size_param="per_page",
        list_at=f"response.result.{kind}", meta=_META, since=("search[updated_min]", "updated"),
        writes=(FakeWrite("create", "POST", base, wrap=single, reply=f"response.result.{single}"),
                FakeWrite("update", "PUT", base + "/{id}", wrap=single, reply=f"response.result.{single}")))


def spec(token: str | None = TOKEN, *, invoices: tuple[dict[str, Any], ...] = INVOICES,
         payments: tuple[dict[str, Any], ...] = PAYMENTS, expenses: tuple[dict[str, Any], ...] = EXPENSES,
         items: tuple[dict[str, Any], ...] = ()) -> ProductSpec:
    """The fixtures; ``items=ITEMS`` adds the product list (tests of matching by SKU and of stock items)."""
    return ProductSpec("freshbooks", (_resource("invoices", "invoiceid", invoices, "invoice"),
                                      _resource("payments", "paymentid", payments, "payment"),
                                      _resource("expenses", "expenseid", expenses, "expense"),
                                      _resource("items", "itemid", items, "item")), bearer=token)
