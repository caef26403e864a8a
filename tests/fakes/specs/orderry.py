"""Orderry, a designed plausible shape: invoices with statuses, their location (shop), customer, lines and
taxes, read by following a next link in the body (``{"invoices": [...], "links": {"next": "<url>"}}``, also
sent as a ``Link`` header), HTTP basic auth. Writes: a status change ``PUT /api/v2/invoices/{id}/status``,
the QuickBooks link of an invoice ``PUT /api/v2/invoices/{id}/quickbooks``, and a payment
``POST /api/v2/payments`` (wrapped as ``{"payment": {...}}``)."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

USER, PASSWORD = "shop-42", "orderry-test-pass-0b7e"

LOCATIONS = {"paris": {"id": 1, "name": "Paris Nord"}, "lyon": {"id": 2, "name": "Lyon Part-Dieu"}}


def _line(name: str, kind: str, qty: str, price: str, tax: str | None) -> dict[str, Any]:
    return {"name": name, "type": kind, "quantity": qty, "price": price, "tax": tax}


def invoice(n: int, status: str, customer: str, location: str, lines: list[dict[str, Any]], *,
            day: int | None = None) -> dict[str, Any]:
    """One Orderry invoice as the API returns it (``n`` gives id 500+n and number INV-5xx)."""
    day = day or n
    return {"id": 500 + n, "number": f"INV-{500 + n}", "status": status, "customer": {"id": 10 + n, "name": customer},
            "location": dict(LOCATIONS[location]), "issued_at": f"2025-04-{day:02d}", "due_at": f"2025-05-{day:02d}",
            "lines": lines, "updated_at": f"2025-04-{day:02d}T16:00:00Z"}


INVOICES = (
    invoice(1, "issued", "Garage Petit", "paris", [_line("Réparation écran", "service", "1", "120.00", "TVA 20%"),
                                                   _line("Écran 6,1 pouces", "product", "1", "60.00", "TVA 20%")]),
    invoice(2, "paid", "Taxi Blanc", "lyon", [_line("Diagnostic", "service", "1", "50.00", "TVA 20%"),
                                              _line("Manuel d'entretien", "product", "1", "25.50", "TVA 5,5%")]),
    invoice(3, "partially_paid", "Velo Plus", "lyon", [_line("Révision complète", "service", "2", "160.00",
                                                             "TVA 10%")]),
    invoice(4, "void", "Garage Petit", "paris", [_line("Câble", "product", "1", "12.00", "TVA 20%")]),
    invoice(5, "draft", "Auto Ecole", "paris", [_line("Contrôle", "service", "1", "95.00", None)]),
)


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def spec(*, auth: bool = True, invoices: tuple[dict[str, Any], ...] = INVOICES) -> ProductSpec:
    invoices_res = FakeResource(name="invoices", path="/api/v2/invoices", records=invoices, paging="link",
                                size_param="per_page", page_size=2, list_at="invoices", meta={"next": "links.next"},
                                link_header=True, since=("updated_since", "updated_at"),
                                writes=(FakeWrite("update", "PUT", "/api/v2/invoices/{id}/status"),
                                        FakeWrite("update", "PUT", "/api/v2/invoices/{id}/quickbooks")))
    payments = FakeResource(name="payments", path="/api/v2/payments", records=(), paging="link",
                            size_param="per_page", page_size=50, list_at="payments", meta={"next": "links.next"},
                            writes=(FakeWrite("create", "POST", "/api/v2/payments", wrap="payment"),))
    return ProductSpec("orderry", (invoices_res, payments), headers={"authorization": basic()} if auth else {})
