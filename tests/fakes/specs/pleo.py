"""Pleo, modelled on its published API (simplified): expenses exported with cursor paging
(``after``/``limit``; ``{"data": [...], "pagination": {"endCursor", "hasNextPage"}}``), changes by
``updatedAtFrom``; accounting categories, tags and tax codes are lists Passerelle may create and update
(the integration publishes the QBO chart of accounts, classes/projects and active VAT codes to them).

An expense is a card purchase (``type: CARD``) or a reimbursed out-of-pocket one (``type: OUT_OF_POCKET``,
"Pleo Pocket"); its ``lines`` split it by accounting category (each line has its gross amount, its
category with the account number it is booked to, and its VAT rate); ``tags`` carry the tag's group
(``class`` or ``project``); ``receipts`` are pre-signed download URLs on Pleo's receipt storage, a host
separate from the API, fetched without the API token (``receipt_storage()`` serves them in tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

TOKEN = "pleo-test-token-91c2"
RECEIPT_HOST = "https://receipts.pleo.test"
_PAGINATION = {"next": "pagination.endCursor", "has_more": "pagination.hasNextPage", "total": "pagination.total"}

CATEGORIES: tuple[dict[str, Any], ...] = (
    {"id": "cat-travel", "name": "Travel", "accountNumber": "625100"},
    {"id": "cat-food", "name": "Meals", "accountNumber": "625700"},
    {"id": "cat-equipment", "name": "Equipment", "accountNumber": "606400"})
_CAT = {c["id"]: c for c in CATEGORIES}
TAGS: tuple[dict[str, Any], ...] = ({"id": "tag-1", "name": "Project Alpha", "code": "PA", "group": "project"},)
TAX_CODES: tuple[dict[str, Any], ...] = ()  # filled by the integration from QBO's active VAT codes
# The code of a rate is the accounting system's id of the VAT code, as the integration published it
# (the French sandbox company's ids: TVA 20 % is 31, TVA 10 % is 32, TVA 5,5 % is 33, TVA 2,1 % is 34).
VAT_CODES = {20: "31", 10: "32", 5.5: "33", 2.1: "34", 0: "35"}


def _line(expense: str, n: int, value: float, category: str, rate: float) -> dict[str, Any]:
    return {"id": f"{expense}-{n}", "amount": {"value": value, "currency": "EUR"}, "category": dict(_CAT[category]),
            "tax": {"code": VAT_CODES[rate], "rate": rate}}


def _expense(n: int, value: float, merchant: str, category: str, rate: float, *, kind: str = "CARD",
             lines: list[dict[str, Any]] | None = None, note: str = "") -> dict[str, Any]:
    ident = f"exp-{n:03d}"
    return {"id": ident, "type": kind, "status": "approved", "amount": {"value": value, "currency": "EUR"},
            "merchant": merchant, "note": note, "category": category, "tags": [],
            "employee": {"id": f"emp-{n % 2 + 1}", "name": ["Léa Martin", "Hugo Bernard"][n % 2]},
            "performedAt": f"2025-02-0{n}T10:00:00Z", "updatedAt": f"2025-02-0{n}T12:00:00Z",
            "receipts": [{"id": f"rcp-{n:03d}", "fileName": f"receipt-{ident}.pdf",
                          "url": f"{RECEIPT_HOST}/r/rcp-{n:03d}.pdf"}],
            "lines": lines or [_line(ident, 1, value, category, rate)]}


EXPENSES = (
    _expense(1, 42.5, "SNCF", "cat-travel", 10, note="Train Paris-Lyon"),
    _expense(2, 18.9, "Monoprix", "cat-food", 10, kind="OUT_OF_POCKET", note="Team lunch"),
    _expense(3, 129.0, "Fnac", "cat-equipment", 20, note="Keyboard and headset",
             lines=[_line("exp-003", 1, 89.0, "cat-equipment", 20), _line("exp-003", 2, 40.0, "cat-travel", 10)]),
    _expense(4, 7.2, "RATP", "cat-travel", 10),
    _expense(5, 64.0, "Hotel Ibis", "cat-travel", 10, kind="OUT_OF_POCKET", note="Hotel night in Lyon"),
)


def receipt_bytes(receipt_id: str) -> bytes:
    """The stand-in PDF the storage serves for a receipt."""
    return f"%PDF-1.4\n% Pleo receipt {receipt_id}\n%%EOF\n".encode()


def receipt_storage() -> Starlette:
    """Pleo's receipt storage: ``GET /r/<receipt>.pdf`` answers the file (pre-signed URLs, no token)."""
    served: list[str] = []

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        served.append(name)
        return Response(receipt_bytes(name.removesuffix(".pdf")), media_type="application/pdf")

    app = Starlette(routes=[Route("/r/{name}", download, methods=["GET"])])
    app.state.served = served
    return app


def _list(name: str, path: str, records: tuple[dict[str, Any], ...]) -> FakeResource:
    return FakeResource(name=name, path=path, records=records, paging="cursor", param="after", size_param="limit",
                        page_size=50, list_at="data", meta=_PAGINATION,
                        writes=(FakeWrite("create", "POST", path), FakeWrite("update", "PUT", path + "/{id}")))


def spec(token: str | None = TOKEN, expenses: tuple[dict[str, Any], ...] = EXPENSES,
         files: Mapping[str, bytes] | None = None) -> ProductSpec:
    listing = FakeResource(name="expenses", path="/v3/expenses", records=expenses, paging="cursor", param="after",
                           size_param="limit", page_size=50, list_at="data", meta=_PAGINATION,
                           since=("updatedAtFrom", "updatedAt"))
    return ProductSpec("pleo", (listing, _list("categories", "/v1/accounting-categories", CATEGORIES),
                                _list("tags", "/v1/tags", TAGS), _list("tax_codes", "/v1/tax-codes", TAX_CODES)),
                       bearer=token, files=files or {})
