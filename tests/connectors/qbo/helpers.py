"""Payloads and small helpers shared by the connector tests."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import DEFAULT_REALM_IDS
from tests.connectors.sandbox import helpers as sandbox_helpers

FR = DEFAULT_REALM_IDS["fr"]
US = DEFAULT_REALM_IDS["us"]


def fr_invoice(doc: str = "F1001", customer: str = "52", **extra: Any) -> dict[str, Any]:
    """The sandbox suite's French invoice (2 x 150 at 20 % VAT and 35 at 5.5 %), with the first line's
    Amount given, as a client sends it."""
    invoice = sandbox_helpers.fr_invoice(doc, customer, **extra)
    invoice["Line"][0] = {**invoice["Line"][0], "Amount": 300}
    return invoice


fr_bill = sandbox_helpers.fr_bill


def count(sandbox: Any, entity: str, realm_id: str = FR) -> int:
    return int(sandbox.query(realm_id, f"select count(*) from {entity}")["totalCount"])
