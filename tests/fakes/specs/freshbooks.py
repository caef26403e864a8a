"""FreshBooks, from its published API: ``/accounting/account/{account_id}/<kind>/<kind>`` lists nested as
``{"response": {"result": {"invoices": [...], "page", "pages", "per_page", "total"}}}``, ``page``/``per_page``
paging, ``search[updated_min]`` for changes, writes wrapped as ``{"invoice": {...}}``."""

from __future__ import annotations

from typing import Any

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

ACCOUNT = "x7Kp2"
TOKEN = "fb-test-token-7f3a"
_META = {"page": "response.result.page", "pages": "response.result.pages", "per_page": "response.result.per_page",
         "total": "response.result.total"}


def _invoice(n: int, status: str, amount: str, updated: str) -> dict[str, Any]:
    return {"invoiceid": 1200 + n, "invoice_number": f"{1200 + n}", "v3_status": status, "create_date": f"2025-01-0{n}",
            "currency_code": "EUR", "amount": {"amount": amount, "code": "EUR"}, "organization": f"Client {n}",
            "updated": updated, "lines": [{"lineid": 1, "name": "Pain", "qty": "2", "unit_cost": {"amount": "1.10"}}]}


INVOICES = tuple(_invoice(n, s, a, u) for n, s, a, u in [
    (1, "paid", "372.00", "2025-01-02 09:00:00"), (2, "sent", "99.00", "2025-01-03 10:30:00"),
    (3, "draft", "50.00", "2025-01-03 11:00:00"), (4, "viewed", "12.40", "2025-01-05 08:15:00"),
    (5, "auto-paid", "8.80", "2025-01-06 17:45:00")])
PAYMENTS = tuple({"paymentid": 300 + n, "invoiceid": 1200 + n, "amount": {"amount": a, "code": "EUR"}, "type": t,
                  "date": f"2025-01-0{n + 1}", "updated": f"2025-01-0{n + 1} 12:00:00"}
                 for n, a, t in [(1, "372.00", "Credit Card"), (4, "12.40", "PayPal"), (5, "8.80", "Cash")])
EXPENSES = tuple({"expenseid": 70 + n, "vendor": v, "amount": {"amount": a, "code": "EUR"}, "categoryid": 5,
                  "date": f"2025-01-0{n}", "updated": f"2025-01-0{n} 18:00:00"}
                 for n, v, a in [(1, "Moulins Bourgeois", "240.00"), (2, "EDF", "61.37"), (3, "La Poste", "9.90")])


def _resource(kind: str, idf: str, records: tuple[dict[str, Any], ...], single: str) -> FakeResource:
    base = f"/accounting/account/{{account_id}}/{kind}/{kind}"
    return FakeResource(
        name=kind, path=base, records=records, id=idf, paging="page", page_size=100, size_param="per_page",
        list_at=f"response.result.{kind}", meta=_META, since=("search[updated_min]", "updated"),
        writes=(FakeWrite("create", "POST", base, wrap=single, reply=f"response.result.{single}"),
                FakeWrite("update", "PUT", base + "/{id}", wrap=single, reply=f"response.result.{single}")))


def spec(token: str | None = TOKEN) -> ProductSpec:
    return ProductSpec("freshbooks", (_resource("invoices", "invoiceid", INVOICES, "invoice"),
                                      _resource("payments", "paymentid", PAYMENTS, "payment"),
                                      _resource("expenses", "expenseid", EXPENSES, "expense")), bearer=token)
