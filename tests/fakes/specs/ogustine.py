"""Ogustine, a designed plausible shape: invoices and credit notes paged by number with no page count
(``{"items": [...], "page": n}``; a short page is the last), customers and services as bare lists, each
invoice and credit note carrying a ``pdf_url`` on the API's own host (the PDF Ogustine produced); bearer
token. Invoices are ``draft`` until validated (then ``validated``; ``cancelled`` when cancelled); numbers
are ``YYYY-MM-NN`` (year, month, sequence), amounts excluding VAT with a VAT rate per line, an optional
discount (excl. VAT); ``updated_since`` filters invoices and credit notes changed since a time."""

from __future__ import annotations

from tests.fakes.product import FakeResource, ProductSpec

TOKEN = "ogustine-test-token-3e8d"
BASE_URL = "https://app.ogustine.example"


def _line(service: str, label: str, qty: str, price: str, rate: str) -> dict[str, str]:
    return {"service_id": service, "label": label, "quantity": qty, "unit_price_ht": price, "vat_rate": rate}


INVOICES = tuple({"id": f"F{n:04d}", "number": f"2025-05-{n:02d}", "customer_id": c, "date": f"2025-05-0{n}",
                  "due_date": f"2025-06-0{n}", "status": status, "discount_ht": "0.00",
                  "total_ht": ht, "total_ttc": ttc, "updated_at": f"2025-05-0{n}T10:00:00Z",
                  "pdf_url": f"{BASE_URL}/api/documents/F{n:04d}.pdf", "lines": lines}
                 for n, c, status, ht, ttc, lines in [
                     (1, "C1", "validated", "100.00", "110.00", [_line("S1", "Ménage 4 h", "4", "25.00", "10.0")]),
                     (2, "C2", "validated", "250.00", "300.00", [_line("S2", "Jardinage 10 h", "10", "25.00", "20.0")]),
                     (3, "C1", "draft", "80.00", "88.00", [_line("S1", "Ménage 3 h 12", "3.2", "25.00", "10.0")])])
CREDIT_NOTES = ({"id": "A0001", "number": "2025-05-01", "invoice_id": "F0002", "invoice_number": "2025-05-02",
                 "customer_id": "C2",
                 "date": "2025-05-09", "status": "validated", "total_ht": "50.00", "total_ttc": "60.00",
                 "updated_at": "2025-05-09T10:00:00Z", "pdf_url": f"{BASE_URL}/api/documents/A0001.pdf",
                 "lines": [_line("S2", "Jardinage 2 h non effectuées", "2", "25.00", "20.0")]},)
CUSTOMERS = ({"id": "C1", "name": "Mme Durand", "email": "durand@example.fr", "kind": "individual"},
             {"id": "C2", "name": "SCI Les Tilleuls", "email": None, "kind": "company"})
SERVICES = ({"id": "S1", "name": "Ménage", "unit": "hour", "vat_rate": "10.0", "unit_price_ht": "25.00"},
            {"id": "S2", "name": "Jardinage", "unit": "hour", "vat_rate": "20.0", "unit_price_ht": "25.00"})


def spec(token: str | None = TOKEN) -> ProductSpec:
    def paged(name: str, records: tuple[dict[str, object], ...]) -> FakeResource:
        return FakeResource(name=name, path=f"/api/{name.replace('_', '-')}", records=records, paging="page",
                            size_param="per_page", page_size=2, list_at="items", meta={"page": "page"},
                            since=("updated_since", "updated_at"))

    return ProductSpec("ogustine", (paged("invoices", INVOICES), paged("credit_notes", CREDIT_NOTES),
                                    FakeResource(name="customers", path="/api/customers", records=CUSTOMERS),
                                    FakeResource(name="services", path="/api/services", records=SERVICES)),
                       bearer=token)
