"""Libeo, a designed plausible shape (no public API to copy): payables (supplier bills) and payments read with
offset/limit (``{"data": [...], "total": n}``), an ``X-Api-Key`` header. Payables imported from an accounting
tool are created with ``POST /v1/payables`` and kept up to date with ``PATCH /v1/payables/{id}`` (both wrapped
as ``{"payable": {...}}``); they carry ``source`` (``libeo`` when typed in Libeo, ``quickbooks`` when imported)
and ``externalId`` (the accounting tool's bill id). A payment embeds a summary of its payable (``payable``: id,
invoice number, source, externalId), as its list endpoint expands it; payment status is written back with
``PATCH /v1/payments/{id}`` wrapped as ``{"payment": {...}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

API_KEY = "libeo-test-key-55d0"

PAYABLES = tuple({"id": f"pay-{n}", "supplier": {"name": s, "siren": f"55210{n}000"}, "invoiceNumber": f"F-2025-{n:03d}",
                  "amountTtc": a, "currency": "EUR", "dueDate": f"2025-03-1{n}", "status": st, "source": "libeo",
                  "externalId": None, "updatedAt": f"2025-03-0{n}T09:00:00Z"}
                 for n, s, a, st in [(1, "Metro", "612.30", "to_pay"), (2, "Orange", "49.99", "scheduled"),
                                     (3, "Brake", "1204.00", "paid")])


def payable_summary(payable: Mapping[str, Any]) -> dict[str, Any]:
    """The payable as a payment embeds it."""
    return {"id": payable["id"], "invoiceNumber": payable.get("invoiceNumber"), "source": payable.get("source"),
            "externalId": payable.get("externalId")}


PAYMENTS = tuple({"id": f"pmt-{n}", "payableId": f"pay-{n}", "payable": payable_summary(PAYABLES[n - 1]), "amount": a,
                  "status": st, "executedAt": d}
                 for n, a, st, d in [(2, "49.99", "scheduled", None), (3, "1204.00", "paid", "2025-03-04")])


def spec(api_key: str | None = API_KEY, *, payables: tuple[Mapping[str, Any], ...] = PAYABLES,
         payments: tuple[Mapping[str, Any], ...] = PAYMENTS) -> ProductSpec:
    payables_res = FakeResource(name="payables", path="/v1/payables", records=payables, paging="offset",
                                size_param="limit", page_size=20, list_at="data", meta={"total": "total"},
                                since=("updatedSince", "updatedAt"),
                                writes=(FakeWrite("create", "POST", "/v1/payables", wrap="payable"),
                                        FakeWrite("update", "PATCH", "/v1/payables/{id}", wrap="payable")))
    payments_res = FakeResource(name="payments", path="/v1/payments", records=payments, paging="offset",
                                size_param="limit", page_size=20, list_at="data", meta={"total": "total"},
                                writes=(FakeWrite("update", "PATCH", "/v1/payments/{id}", wrap="payment"),))
    return ProductSpec("libeo", (payables_res, payments_res), headers={"x-api-key": api_key} if api_key else {})
