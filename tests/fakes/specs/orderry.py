"""Orderry, a designed plausible shape: invoices with statuses read by following a next link in the body
(``{"invoices": [...], "links": {"next": "<url>"}}``, also sent as a ``Link`` header), HTTP basic auth, and
status changes written with ``PUT /api/v2/invoices/{id}/status``."""

from __future__ import annotations

import base64

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

USER, PASSWORD = "shop-42", "orderry-test-pass-0b7e"

INVOICES = tuple({"id": 500 + n, "number": f"INV-{500 + n}", "status": st, "customer": {"id": 10 + n, "name": c},
                  "total": t, "issued_at": f"2025-04-0{n}", "updated_at": f"2025-04-0{n}T16:00:00Z"}
                 for n, st, c, t in [(1, "issued", "Garage Petit", "180.00"), (2, "paid", "Taxi Blanc", "75.50"),
                                     (3, "partially_paid", "Velo Plus", "320.00"), (4, "void", "Garage Petit", "12.00"),
                                     (5, "issued", "Auto Ecole", "95.00")])


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def spec(*, auth: bool = True) -> ProductSpec:
    invoices = FakeResource(name="invoices", path="/api/v2/invoices", records=INVOICES, paging="link",
                            size_param="per_page", page_size=2, list_at="invoices", meta={"next": "links.next"},
                            link_header=True, since=("updated_since", "updated_at"),
                            writes=(FakeWrite("update", "PUT", "/api/v2/invoices/{id}/status"),))
    return ProductSpec("orderry", (invoices,), headers={"authorization": basic()} if auth else {})
