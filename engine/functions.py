"""The registry of functions expressions may call: small, pure and bounded.

Adding a function is adding an entry. Every string a function returns is length-checked, so no
call can build an unbounded value. Money helpers work on ``Decimal`` and round half-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["FUNCTIONS", "MAX_POWER", "MAX_STRING", "EvalFailure", "FunctionSpec", "to_decimal"]

MAX_STRING = 100_000  # longest string or list an expression or template may build
MAX_POWER = 100  # largest exponent of `**`


class EvalFailure(Exception):
    """A runtime problem in an expression (bad type, missing value); the evaluator adds the location."""

    def __init__(self, message: str, loc: object = None) -> None:
        super().__init__(message)
        self.loc = loc  # the rule's Loc when the raiser knows it better than the traceback does


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    doc: str


def to_decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is Decimal:
        return value  # type: ignore[no-any-return]
    if kind is str:  # the common case: amounts arrive as JSON strings; Decimal() ignores surrounding spaces
        try:
            return Decimal(value)
        except InvalidOperation:
            raise EvalFailure(f"{value!r} is not a number") from None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise EvalFailure(f"expected a number, got {value!r}")
    try:
        return Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
    except InvalidOperation:
        raise EvalFailure(f"{value!r} is not a number") from None


def _bounded(value: Any) -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_STRING:
        raise EvalFailure(f"result is longer than {MAX_STRING} items")
    return value


def round_money(value: Any, places: int = 2) -> Decimal:
    """Round half-up to `places` decimals (cents by default)."""
    if not 0 <= int(places) <= 8:
        raise EvalFailure("places must be between 0 and 8")
    return to_decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise EvalFailure(f"{value!r} is not a date (YYYY-MM-DD)") from None


def date(value: Any) -> str | None:
    """The ISO date (YYYY-MM-DD) of a date or date-time string; null stays null."""
    return None if value in (None, "") else _date(value).isoformat()


def add_days(value: Any, days: Any) -> str:
    if not isinstance(days, (int, Decimal)) or isinstance(days, bool):
        raise EvalFailure(f"days must be a whole number, got {days!r}")
    return (_date(value) + dt.timedelta(days=int(days))).isoformat()


def days_between(start: Any, end: Any) -> int:
    return (_date(end) - _date(start)).days


def coalesce(*values: Any) -> Any:
    """The first value that is not null or empty."""
    return next((v for v in values if v not in (None, "")), None)


def _sum(values: Iterable[Any]) -> Decimal | int:
    total: Decimal | int = 0
    for v in values:
        total = total + (to_decimal(v) if not isinstance(v, (int, Decimal)) or isinstance(v, bool) else v)
    return total


def _text(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        try:
            return _bounded(fn(*args))
        except (AttributeError, TypeError):
            raise EvalFailure(f"expected text, got {', '.join(type(a).__name__ for a in args)}") from None

    return wrapper


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if not isinstance(mapping, Mapping):
        raise EvalFailure(f"get() needs a mapping, got {type(mapping).__name__}")
    return mapping.get(key, default)


def _int(value: Any) -> int:
    try:
        return int(to_decimal(value))
    except (ValueError, ArithmeticError):
        raise EvalFailure(f"{value!r} is not a whole number") from None


def _str(value: Any) -> str:
    return "" if value is None else _bounded(str(value))


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _first(values: Any) -> Any:
    return next(iter(values), None) if values is not None else None


def _last(values: Any) -> Any:
    items = list(values or ())
    return items[-1] if items else None


def _sum_by(items: Any, key: Any, value: Any) -> list[dict[str, Any]]:
    """Totals of ``value`` per distinct ``key`` (fields of each item), in order of first appearance."""
    totals: dict[Any, Any] = {}
    for item in items or ():
        if not isinstance(item, Mapping):
            raise EvalFailure(f"sum_by() needs a list of mappings, got {type(item).__name__}")
        group = item.get(key)
        amount = item.get(value)
        amount = amount if isinstance(amount, (int, Decimal)) and not isinstance(amount, bool) else to_decimal(amount)
        totals[group] = totals.get(group, 0) + amount
    return [{"key": group, "total": total} for group, total in totals.items()]


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


_SPECS: tuple[FunctionSpec, ...] = (
    FunctionSpec("round_money", round_money, 1, 2, "round_money(x, places=2): Decimal rounded half-up."),
    FunctionSpec("decimal", to_decimal, 1, 1, "decimal(x): x as an exact Decimal."),
    FunctionSpec("int", _int, 1, 1, "int(x): x as a whole number (truncated)."),
    FunctionSpec("str", _str, 1, 1, "str(x): x as text; null gives ''."),
    FunctionSpec("bool", _bool, 1, 1, "bool(x): truth of x; 'true', 'yes', '1', 'on' are true."),
    FunctionSpec("len", _len, 1, 1, "len(x): length of a text or list; null gives 0."),
    FunctionSpec("sum", _sum, 1, 1, "sum(list): exact sum of numbers."),
    FunctionSpec("sum_by", _sum_by, 3, 3,
                 "sum_by(list, 'key', 'value'): [{key, total}] per distinct key field, in order of first appearance."),
    FunctionSpec("min", min, 1, None, "min(a, b, ...) or min(list)."),
    FunctionSpec("max", max, 1, None, "max(a, b, ...) or max(list)."),
    FunctionSpec("abs", abs, 1, 1, "abs(x)."),
    FunctionSpec("any", any, 1, 1, "any(list): true when one item is true."),
    FunctionSpec("all", all, 1, 1, "all(list): true when every item is true."),
    FunctionSpec("lower", _text(lambda s: s.lower()), 1, 1, "lower(text)."),
    FunctionSpec("upper", _text(lambda s: s.upper()), 1, 1, "upper(text)."),
    FunctionSpec("strip", _text(lambda s: s.strip()), 1, 1, "strip(text): without surrounding spaces."),
    FunctionSpec("replace", _text(lambda s, a, b: s.replace(a, b)), 3, 3, "replace(text, old, new)."),
    FunctionSpec("startswith", _text(lambda s, p: s.startswith(p)), 2, 2, "startswith(text, prefix)."),
    FunctionSpec("endswith", _text(lambda s, p: s.endswith(p)), 2, 2, "endswith(text, suffix)."),
    FunctionSpec("split", _text(lambda s, sep: s.split(sep)), 2, 2, "split(text, separator): a list."),
    FunctionSpec("join", _text(lambda sep, items: sep.join(str(i) for i in items)), 2, 2, "join(sep, list)."),
    FunctionSpec("substr", _text(lambda s, a, b=None: s[a:b]), 2, 3, "substr(text, start, end=None)."),
    FunctionSpec("truncate", _text(lambda s, n: s[: int(n)]), 2, 2, "truncate(text, n): at most n characters."),
    FunctionSpec("zfill", _text(lambda s, n: str(s).zfill(min(int(n), 100))), 2, 2, "zfill(text, width<=100)."),
    FunctionSpec("coalesce", coalesce, 1, None, "coalesce(a, b, ...): the first value not null or empty."),
    FunctionSpec("get", _get, 2, 3, "get(mapping, key, default=None)."),
    FunctionSpec("first", _first, 1, 1, "first(list): the first item or null."),
    FunctionSpec("last", _last, 1, 1, "last(list): the last item or null."),
    FunctionSpec("date", date, 1, 1, "date(x): the ISO date YYYY-MM-DD of a date or date-time."),
    FunctionSpec("add_days", add_days, 2, 2, "add_days(date, n): the date n days later."),
    FunctionSpec("days_between", days_between, 2, 2, "days_between(a, b): days from a to b."),
    FunctionSpec("lookup", lambda *_: None, 2, 2,
                 "lookup('table', key): the table's row for key, by the table's missing-key policy."),
)

FUNCTIONS: Mapping[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}
