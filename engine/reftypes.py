"""Reference types: what kind of QBO record a table's values must name (``refers_to: {type: ...}``).

A registry, so a new type is one entry: each names the entity it applies to, a predicate on the live
record and the words used when a record is of the wrong kind. These are facts of the QBO API (account
types, tax code rate lists, item types), not of any product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["REFERENCE_TYPES", "ReferenceType", "reference_type"]


@dataclass(frozen=True)
class ReferenceType:
    entity: str
    accepts: Callable[[Mapping[str, Any]], bool]
    wanted: str        # "an expense account (Expense, Other Expense or Cost of Goods Sold)"
    describe: Callable[[Mapping[str, Any]], str]  # what the record is instead: "a Bank account"


REFERENCE_TYPES: dict[str, ReferenceType] = {}


def reference_type(name: str, entity: str, wanted: str, accepts: Callable[[Mapping[str, Any]], bool],
                   describe: Callable[[Mapping[str, Any]], str]) -> None:
    REFERENCE_TYPES[name] = ReferenceType(entity, accepts, wanted, describe)


def _account_types(*types: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda record: record.get("AccountType") in types


def _account(record: Mapping[str, Any]) -> str:
    return f"a {record.get('AccountType') or 'untyped'} account"


def _rates(side: str) -> Callable[[Mapping[str, Any]], bool]:
    def accepts(record: Mapping[str, Any]) -> bool:
        rates = record.get(f"{side}TaxRateList")
        return isinstance(rates, Mapping) and bool(rates.get("TaxRateDetail"))

    return accepts


def _tax_code(record: Mapping[str, Any]) -> str:
    sides = [s.lower() for s in ("Sales", "Purchase") if _rates(s)(record)]
    return f"a tax code with {' and '.join(sides)} rates" if sides else "a tax code without rates"


def _item(record: Mapping[str, Any]) -> str:
    return f"a {record.get('Type') or 'untyped'} item"


reference_type("expense", "Account", "an expense account (Expense, Other Expense or Cost of Goods Sold)",
               _account_types("Expense", "Other Expense", "Cost of Goods Sold"), _account)
reference_type("income", "Account", "an income account (Income or Other Income)",
               _account_types("Income", "Other Income"), _account)
reference_type("deposit", "Account", "an account payments can be deposited to (Bank or Other Current Asset)",
               _account_types("Bank", "Other Current Asset"), _account)
reference_type("bank", "Account", "a Bank account", _account_types("Bank"), _account)
reference_type("payment", "Account", "an account purchases can be paid from (Bank or Credit Card)",
               _account_types("Bank", "Credit Card"), _account)
reference_type("sales", "TaxCode", "a tax code with sales rates", _rates("Sales"), _tax_code)
reference_type("purchase", "TaxCode", "a tax code with purchase rates", _rates("Purchase"), _tax_code)
reference_type("service", "Item", "a Service item", lambda r: r.get("Type") == "Service", _item)
reference_type("inventory", "Item", "an Inventory item", lambda r: r.get("Type") == "Inventory", _item)
