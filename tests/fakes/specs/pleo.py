"""Pleo, modelled on its published API (simplified): expenses exported with cursor paging
(``after``/``limit``; ``{"data": [...], "pagination": {"endCursor", "hasNextPage"}}``), changes by
``updatedAtFrom``; accounting categories and tags are lists Passerelle may create and update."""

from __future__ import annotations

from typing import Any

from tests.fakes.product import FakeResource, FakeWrite, ProductSpec

TOKEN = "pleo-test-token-91c2"
_PAGINATION = {"next": "pagination.endCursor", "has_more": "pagination.hasNextPage", "total": "pagination.total"}

EXPENSES = tuple({"id": f"exp-{n:03d}", "amount": {"value": v, "currency": "EUR"}, "merchant": m, "category": c,
                  "tags": [], "status": "approved", "performedAt": f"2025-02-0{n}T10:00:00Z",
                  "updatedAt": f"2025-02-0{n}T12:00:00Z"}
                 for n, v, m, c in [(1, 42.5, "SNCF", "cat-travel"), (2, 18.9, "Monoprix", "cat-food"),
                                    (3, 129.0, "Fnac", "cat-equipment"), (4, 7.2, "RATP", "cat-travel"),
                                    (5, 64.0, "Hotel Ibis", "cat-travel")])
CATEGORIES: tuple[dict[str, Any], ...] = (
    {"id": "cat-travel", "name": "Travel", "accountNumber": "6251"},
    {"id": "cat-food", "name": "Meals", "accountNumber": "6257"},
    {"id": "cat-equipment", "name": "Equipment", "accountNumber": "6063"})
TAGS: tuple[dict[str, Any], ...] = ({"id": "tag-1", "name": "Project Alpha", "code": "PA"},)


def _list(name: str, path: str, records: tuple[dict[str, Any], ...]) -> FakeResource:
    return FakeResource(name=name, path=path, records=records, paging="cursor", param="after", size_param="limit",
                        page_size=50, list_at="data", meta=_PAGINATION,
                        writes=(FakeWrite("create", "POST", path), FakeWrite("update", "PUT", path + "/{id}")))


def spec(token: str | None = TOKEN) -> ProductSpec:
    expenses = FakeResource(name="expenses", path="/v3/expenses", records=EXPENSES, paging="cursor", param="after",
                            size_param="limit", page_size=50, list_at="data", meta=_PAGINATION,
                            since=("updatedAtFrom", "updatedAt"))
    return ProductSpec("pleo", (expenses, _list("categories", "/v1/accounting-categories", CATEGORIES),
                                _list("tags", "/v1/tags", TAGS)), bearer=token)
