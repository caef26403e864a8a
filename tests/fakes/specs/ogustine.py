"""Ogustine, a designed plausible shape: invoices and credit notes paged by number with no page count
(``{"items": [...], "page": n}``; a short page is the last), customers and services as bare lists, each
invoice carrying a ``pdf_url``; bearer token."""

from __future__ import annotations

from tests.fakes.product import FakeResource, ProductSpec

TOKEN = "ogustine-test-token-3e8d"

INVOICES = tuple({"id": f"F{n:04d}", "number": f"OG-2025-{n:04d}", "customer_id": c, "date": f"2025-05-0{n}",
                  "total_ht": ht, "total_ttc": ttc, "status": "finalized",
                  "pdf_url": f"https://files.ogustine.example/invoices/F{n:04d}.pdf",
                  "lines": [{"service_id": "S1", "quantity": "1", "unit_price_ht": ht, "vat_rate": "20.0"}]}
                 for n, c, ht, ttc in [(1, "C1", "100.00", "120.00"), (2, "C2", "250.00", "300.00"),
                                       (3, "C1", "80.00", "96.00")])
CREDIT_NOTES = ({"id": "A0001", "number": "OG-AV-2025-0001", "invoice_id": "F0002", "customer_id": "C2",
                 "date": "2025-05-09", "total_ht": "50.00", "total_ttc": "60.00",
                 "pdf_url": "https://files.ogustine.example/credit-notes/A0001.pdf"},)
CUSTOMERS = ({"id": "C1", "name": "Mme Durand", "email": "durand@example.fr", "kind": "individual"},
             {"id": "C2", "name": "SCI Les Tilleuls", "email": None, "kind": "company"})
SERVICES = ({"id": "S1", "name": "Ménage", "unit": "hour", "vat_rate": "20.0"},
            {"id": "S2", "name": "Jardinage", "unit": "hour", "vat_rate": "10.0"})


def spec(token: str | None = TOKEN) -> ProductSpec:
    def paged(name: str, records: tuple[dict[str, object], ...]) -> FakeResource:
        return FakeResource(name=name, path=f"/api/{name.replace('_', '-')}", records=records, paging="page",
                            size_param="per_page", page_size=2, list_at="items", meta={"page": "page"})

    return ProductSpec("ogustine", (paged("invoices", INVOICES), paged("credit_notes", CREDIT_NOTES),
                                    FakeResource(name="customers", path="/api/customers", records=CUSTOMERS),
                                    FakeResource(name="services", path="/api/services", records=SERVICES)),
                       bearer=token)
