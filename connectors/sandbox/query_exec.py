"""Running a parsed query against a realm: filterable fields, comparisons, order, pages.

Only the properties QBO documents as filterable may appear in WHERE or ORDERBY (plus
``MetaData.CreateTime``/``LastUpdatedTime`` everywhere); name lists return active rows unless the
query mentions ``Active``. Comparisons are case-insensitive; references compare by their ``value``;
dates and datetimes compare as instants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sandbox.catalogue import ENTITIES, UNSERVED
from connectors.sandbox.errors import QboError
from connectors.sandbox.operations import render
from connectors.sandbox.query import CURRENT_DATE, Condition, Order, Query, Value, like, parse_query
from connectors.sandbox.store import RealmState
from connectors.sandbox.timefmt import parse_instant, today

__all__ = ["FILTERABLE", "run_query"]

_PEOPLE = ("Id", "DisplayName", "GivenName", "FamilyName", "CompanyName", "Active", "Balance", "PrimaryEmailAddr")
_NAMED = ("Id", "Name", "Active", "FullyQualifiedName")
FILTERABLE: Mapping[str, tuple[str, ...]] = {
    "Invoice": ("Id", "DocNumber", "TxnDate", "DueDate", "CustomerRef", "SalesTermRef", "Balance", "TotalAmt",
                "ProjectRef"),
    "SalesReceipt": ("Id", "DocNumber", "TxnDate", "CustomerRef", "Balance", "TotalAmt"),
    "CreditMemo": ("Id", "DocNumber", "TxnDate", "CustomerRef", "Balance"),
    "Payment": ("Id", "TxnDate", "CustomerRef", "TotalAmt", "PaymentMethodRef", "PaymentRefNum"),
    "Bill": ("Id", "DocNumber", "TxnDate", "DueDate", "VendorRef", "APAccountRef", "TotalAmt", "Balance"),
    "BillPayment": ("Id", "DocNumber", "TxnDate", "VendorRef", "TotalAmt"),
    "Purchase": ("Id", "DocNumber", "TxnDate"),
    "Customer": _PEOPLE, "Vendor": _PEOPLE,
    "Item": ("Id", "Name", "Sku", "Type", "Active", "FullyQualifiedName", "Taxable"),
    "Account": ("Id", "Name", "AccountType", "Classification", "Active", "FullyQualifiedName"),
    "TaxCode": ("Id", "Name", "Active", "Description"),
    "TaxRate": ("Id", "Name", "Active"),
    "Class": _NAMED, "Department": _NAMED, "Term": ("Id", "Name", "Active"),
    "PaymentMethod": ("Id", "Name", "Active"),
    "Attachable": ("Id", "FileName", "Note", "ContentType", "AttachableRef.EntityRef.Type",
                   "AttachableRef.EntityRef.value"),
    "Preferences": ("Id",), "CompanyInfo": ("Id",),
    "Estimate": ("Id", "DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "TxnStatus", "ExpirationDate"),
    "RefundReceipt": ("Id", "DocNumber", "TxnDate", "CustomerRef", "TotalAmt"),
    "VendorCredit": ("Id", "DocNumber", "TxnDate", "VendorRef", "TotalAmt", "Balance"),
    "PurchaseOrder": ("Id", "DocNumber", "TxnDate", "VendorRef", "TotalAmt", "POStatus"),
    "JournalEntry": ("Id", "DocNumber", "TxnDate"),
    "Deposit": ("Id", "TxnDate", "TotalAmt"),
    "Transfer": ("Id", "TxnDate"),
    "TimeActivity": ("Id", "TxnDate"),
    "Employee": ("Id", "DisplayName", "GivenName", "FamilyName", "Active", "PrimaryEmailAddr"),
    "Budget": ("Id", "Name", "StartDate", "EndDate", "Active"),
    "TaxAgency": ("Id", "DisplayName"),
}
_EVERYWHERE = ("MetaData.CreateTime", "MetaData.LastUpdatedTime")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _entity(name: str) -> str:
    for entity in ENTITIES:
        if entity.lower() == name.lower():
            return entity
    raise QboError("4000", f"QueryValidationError: Invalid entity name: {name}")


def _canonical(entity: str, field: str) -> str:
    for known in (*FILTERABLE.get(entity, ()), *_EVERYWHERE):
        if known.lower() == field.lower():
            return known
    raise QboError("4000", f"QueryValidationError: property '{field}' is not queryable for entity {entity}")


def _values(row: Any, path: list[str]) -> list[Any]:
    """Every value at a dotted path, descending into lists (any element may match)."""
    if not path:
        if isinstance(row, dict) and "value" in row:
            return [row["value"]]
        if isinstance(row, dict) and "Address" in row:
            return [row["Address"]]
        return [row]
    if isinstance(row, list):
        return [value for item in row for value in _values(item, path)]
    if not isinstance(row, dict):
        return []
    key = next((k for k in row if k.lower() == path[0].lower()), None)
    return [] if key is None else _values(row[key], path[1:])


def _comparable(stored: Any, wanted: Value, tz: str, now: datetime) -> tuple[Any, Any] | None:
    if wanted is CURRENT_DATE:
        wanted = today(now, tz)
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return (stored, wanted) if isinstance(stored, bool) and isinstance(wanted, bool) else None
    if isinstance(stored, int | Decimal) or (isinstance(wanted, Decimal) and not isinstance(stored, str)):
        try:
            return Decimal(str(stored)), Decimal(str(wanted))
        except InvalidOperation:
            return None
    text, other = str(stored), str(wanted)
    if _DATE.match(text) and _DATE.match(other):
        left, right = parse_instant(text, tz), parse_instant(other, tz)
        if left is not None and right is not None:
            return left, right
    if isinstance(wanted, Decimal):
        try:
            return Decimal(text), wanted
        except InvalidOperation:
            return None
    return text.casefold(), other.casefold()


_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}


def _matches(row: Mapping[str, Any], entity: str, condition: Condition, tz: str, now: datetime) -> bool:
    stored = _values(row, condition.field.split("."))
    for value in stored:
        if condition.op == "LIKE":
            if like(str(value), str(condition.values[0])):
                return True
            continue
        compare = _OPS["="] if condition.op == "IN" else _OPS[condition.op]
        for wanted in condition.values:
            pair = _comparable(value, wanted, tz, now)
            if pair is not None and compare(*pair):
                return True
    return False


def _sort_key(row: Mapping[str, Any], field: str, tz: str) -> tuple[int, Any]:
    values = _values(row, field.split("."))
    if not values or values[0] is None:
        return (0, "")
    value = values[0]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    if field == "Id" and str(value).isdigit():
        return (1, Decimal(str(value)))
    if isinstance(value, str) and _DATE.match(value):
        instant = parse_instant(value, tz)
        if instant is not None:
            return (2, instant)
    return (3, str(value).casefold())


def _project(row: dict[str, Any], query: Query) -> dict[str, Any]:
    if query.star:
        return render(row)
    wanted = {field.split(".")[0].lower() for field in query.fields} | {"id"}
    projected = {key: value for key, value in render(row).items() if key.lower() in wanted}
    projected.update({"domain": "QBO", "sparse": True})
    return projected


def _check(query: Query, entity: str) -> Query:
    where = []
    for condition in query.where:
        field = _canonical(entity, condition.field)
        if field == "Id" and condition.op not in ("=", "IN"):
            raise QboError("4000", "QueryValidationError: Id supports only the = and IN operators")
        where.append(Condition(field, condition.op, condition.values))
    order = tuple(Order(_canonical(entity, o.field), o.descending) for o in query.order)
    return Query(entity, query.fields, query.star, query.count, tuple(where), order, query.start, query.max_results)


def select(realm: RealmState, query: Query, now: datetime) -> tuple[str, list[dict[str, Any]], int]:
    """Entity name, the page of rows, and the count of all matching rows."""
    entity = _entity(query.entity)
    query = _check(query, entity)
    rows: Iterable[dict[str, Any]] = realm.rows(entity)
    mentions_active = any(c.field == "Active" for c in query.where)
    if ENTITIES[entity].family == "name-list" and not mentions_active:
        rows = (row for row in rows if row.get("Active", True) is not False)
    matched = [row for row in rows if all(_matches(row, entity, c, realm.timezone, now) for c in query.where)]
    matched.sort(key=lambda row: _sort_key(row, "Id", realm.timezone))
    for order in reversed(query.order):
        matched.sort(key=lambda row, f=order.field: _sort_key(row, f, realm.timezone),  # type: ignore[misc]
                     reverse=order.descending)
    page = matched[query.start - 1: query.start - 1 + query.max_results]
    return entity, [_project(row, query) for row in page], len(matched)


def _unserved(name: str) -> bool:
    return any(known.lower() == name.lower() for known in UNSERVED)


def run_query(realm: RealmState, text: str, now: datetime) -> dict[str, Any]:
    """The ``QueryResponse`` object for one query string; a QBO entity the sandbox holds none of is empty."""
    query = parse_query(text)
    if _unserved(query.entity):
        return {"totalCount": 0} if query.count else {}
    entity, page, total = select(realm, query, now)
    if query.count:
        return {"totalCount": total}
    if not page:
        return {}
    return {entity: page, "startPosition": query.start, "maxResults": len(page)}
