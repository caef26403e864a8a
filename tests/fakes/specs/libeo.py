"""Libeo, a designed plausible shape (no public API to copy): payables (supplier bills) and payments read with
offset/limit (``{"data": [...], "total": n}``), an ``X-Api-Key`` header, and payment status written back with
``PATCH /v1/payments/{id}`` wrapped as ``{"payment": {...}}``."""

from __future__ import annotations

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

API_KEY = "libeo-test-key-55d0"

PAYABLES = tuple({"id": f"pay-{n}", "supplier": {"name": s, "siren": f"55210{n}000"}, "invoiceNumber": f"F-2025-{n:03d}",
                  "amountTtc": a, "currency": "EUR", "dueDate": f"2025-03-1{n}", "status": st,
                  "updatedAt": f"2025-03-0{n}T09:00:00Z"}
                 for n, s, a, st in [(1, "Metro", "612.30", "to_pay"), (2, "Orange", "49.99", "scheduled"),
                                     (3, "Brake", "1204.00", "paid")])
PAYMENTS = tuple({"id": f"pmt-{n}", "payableId": f"pay-{n}", "amount": a, "status": st, "executedAt": d}
                 for n, a, st, d in [(2, "49.99", "scheduled", None), (3, "1204.00", "paid", "2025-03-04")])


def spec(api_key: str | None = API_KEY) -> ProductSpec:
    payables = FakeResource(name="payables", path="/v1/payables", records=PAYABLES, paging="offset",
                            size_param="limit", page_size=20, list_at="data", meta={"total": "total"},
                            since=("updatedSince", "updatedAt"))
    payments = FakeResource(name="payments", path="/v1/payments", records=PAYMENTS, paging="offset",
                            size_param="limit", page_size=20, list_at="data", meta={"total": "total"},
                            writes=(FakeWrite("update", "PATCH", "/v1/payments/{id}", wrap="payment"),))
    return ProductSpec("libeo", (payables, payments), headers={"x-api-key": api_key} if api_key else {})
