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

from engine.bounds import (
    MAX_DECIMAL_EXPONENT,
    MAX_DIGITS,
    MAX_POWER,
    MAX_STRING,
    EvalFailure,
    charge,
    check_size,
    size_of,
)

__all__ = ["FUNCTIONS", "MAX_POWER", "MAX_STRING", "PARSED", "EvalFailure", "FunctionSpec", "to_decimal"]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    doc: str


# Recently converted texts: a mapping reads the same amount several times per record (filters, totals, lines).
# A Decimal made from text is exact and immutable, so a cached one is the same value; the cache is bounded.
_PARSED: dict[str, Decimal] = {}
_PARSED_MAX = 4096
PARSED: Mapping[str, Decimal] = _PARSED  # read by compiled expressions before calling to_decimal


def to_decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is str:  # the common case: amounts arrive as JSON strings; Decimal() ignores surrounding spaces
        number = _PARSED.get(value)
        if number is not None:
            return number
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise EvalFailure(f"{value[:40]!r} is not a number") from None
        if not -MAX_DECIMAL_EXPONENT <= number.adjusted() <= MAX_DECIMAL_EXPONENT:
            return _magnitude(number)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[value] = number
        return number
    if kind is Decimal:
        return value  # type: ignore[no-any-return]
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise EvalFailure(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)  # a whole number has at most MAX_DIGITS digits: Python refuses more from text
    text = str(value).strip()
    try:
        return _magnitude(Decimal(text))
    except InvalidOperation:
        raise EvalFailure(f"{text[:40]!r} is not a number") from None


def _magnitude(number: Decimal) -> Decimal:
    """A decimal from data, refused when printing or rounding it would take unbounded room (``1e3000000000``)."""
    if -MAX_DECIMAL_EXPONENT <= number.adjusted() <= MAX_DECIMAL_EXPONENT:
        return number
    raise EvalFailure(f"number {str(number)[:40]} is out of range (at most 10**{MAX_DECIMAL_EXPONENT})")


def _bounded(value: Any) -> Any:
    return check_size(value)


def _charged(values: Any) -> Any:
    """``values`` after charging the budget for walking it (a list function inside a loop is quadratic)."""
    if isinstance(values, (list, tuple, str, dict)):
        charge(len(values))
    return values


_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(9)}


def round_money(value: Any, places: int = 2) -> Decimal:
    """Round half-up to `places` decimals (cents by default)."""
    if type(places) is int and 0 <= places <= 8:  # the common case, quantum computed once
        return to_decimal(value).quantize(_QUANTA[places], rounding=ROUND_HALF_UP)
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


_MAX_DAYS = (dt.date.max - dt.date.min).days


def add_days(value: Any, days: Any) -> str:
    if not isinstance(days, (int, Decimal)) or isinstance(days, bool):
        raise EvalFailure(f"days must be a whole number, got {days!r}")
    if not -_MAX_DAYS <= days <= _MAX_DAYS:
        raise EvalFailure(f"{days} days is out of the range of dates")
    try:
        return (_date(value) + dt.timedelta(days=int(days))).isoformat()
    except OverflowError:
        raise EvalFailure(f"adding {days} days leaves the range of dates (years 1 to 9999)") from None


def days_between(start: Any, end: Any) -> int:
    return (_date(end) - _date(start)).days


def coalesce(*values: Any) -> Any:
    """The first value that is not null or empty."""
    for v in values:
        if v not in _EMPTY:
            return v
    return None


_EMPTY = (None, "")


def _sum(values: Iterable[Any]) -> Decimal | int:
    total: Decimal | int = 0
    for v in _charged(values):
        total = total + (v if type(v) is Decimal or (isinstance(v, (int, Decimal)) and not isinstance(v, bool))
                         else to_decimal(v))
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
    number = to_decimal(value)
    if number.is_finite() and number.adjusted() >= MAX_DIGITS:
        raise EvalFailure(f"{str(number)[:40]} has more than {MAX_DIGITS} digits")
    try:
        return int(number)
    except (ValueError, ArithmeticError):
        raise EvalFailure(f"{str(value)[:40]!r} is not a whole number") from None


def _str(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is Decimal or kind is int:
        try:
            return str(value)  # a decimal's magnitude is bounded, so its text is short
        except ValueError:  # an int over Python's own digit limit
            raise EvalFailure(f"str() of a number with more than {MAX_DIGITS} digits") from None
    if value is None:
        return ""
    if isinstance(value, (list, tuple, Mapping)):  # a container's text is as long as what it holds
        if size_of(dict(value) if isinstance(value, Mapping) else value) > MAX_STRING:
            raise EvalFailure(f"str() would build more than {MAX_STRING} characters")
        return _bounded(str(value))  # type: ignore[no-any-return]
    try:
        return str(value)  # text is itself; a number's text is short (its magnitude is bounded)
    except ValueError:  # an int over Python's own digit limit
        raise EvalFailure(f"str() of a number with more than {MAX_DIGITS} digits") from None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _first(values: Any) -> Any:
    return next(iter(values), None) if values is not None else None


def _last(values: Any) -> Any:
    items = list(_charged(values) or ())
    return items[-1] if items else None


def _sum_by(items: Any, key: Any, value: Any) -> list[dict[str, Any]]:
    """Totals of ``value`` per distinct ``key`` (fields of each item), in order of first appearance."""
    totals: dict[Any, Any] = {}
    for item in _charged(items) or ():
        if type(item) is not dict and not isinstance(item, Mapping):
            raise EvalFailure(f"sum_by() needs a list of mappings, got {type(item).__name__}")
        group = item.get(key)
        amount = item.get(value)
        if type(amount) is not Decimal:
            amount = amount if isinstance(amount, (int, Decimal)) and not isinstance(amount, bool) \
                else to_decimal(amount)
        totals[group] = totals.get(group, 0) + amount
    return [{"key": group, "total": total} for group, total in totals.items()]


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


def _over_list(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A builtin over one list argument (min, max, any, all), charged for the walk."""
    def wrapper(*args: Any) -> Any:
        return fn(*(_charged(a) for a in args))

    return wrapper


def _join(sep: Any, items: Any) -> str:
    """``sep`` between the items as text; the result's length is known before it is built."""
    parts = [str(i) for i in _charged(items)]
    length = sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0)
    if length > MAX_STRING:
        raise EvalFailure(f"join() would build more than {MAX_STRING} characters")
    return sep.join(parts)  # type: ignore[no-any-return]


def replace_text(text: str, old: str, new: str, count: int = -1) -> str:
    """``text`` with ``old`` replaced by ``new``; the result's length is known before it is built."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        raise TypeError("replace() needs text")
    limit = int(count)
    hits = (len(text) + 1 if not old else text.count(old))
    hits = hits if limit < 0 else min(hits, limit)
    if len(text) + hits * (len(new) - len(old)) > MAX_STRING:
        raise EvalFailure(f"replace would build more than {MAX_STRING} characters")
    charge(len(text))
    return text.replace(old, new, limit)


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
    FunctionSpec("min", _over_list(min), 1, None, "min(a, b, ...) or min(list)."),
    FunctionSpec("max", _over_list(max), 1, None, "max(a, b, ...) or max(list)."),
    FunctionSpec("abs", abs, 1, 1, "abs(x)."),
    FunctionSpec("any", _over_list(any), 1, 1, "any(list): true when one item is true."),
    FunctionSpec("all", _over_list(all), 1, 1, "all(list): true when every item is true."),
    FunctionSpec("lower", _text(lambda s: s.lower()), 1, 1, "lower(text)."),
    FunctionSpec("upper", _text(lambda s: s.upper()), 1, 1, "upper(text)."),
    FunctionSpec("strip", _text(lambda s: s.strip()), 1, 1, "strip(text): without surrounding spaces."),
    FunctionSpec("replace", _text(replace_text), 3, 3, "replace(text, old, new)."),
    FunctionSpec("startswith", _text(lambda s, p: s.startswith(p)), 2, 2, "startswith(text, prefix)."),
    FunctionSpec("endswith", _text(lambda s, p: s.endswith(p)), 2, 2, "endswith(text, suffix)."),
    FunctionSpec("split", _text(lambda s, sep: s.split(sep)), 2, 2, "split(text, separator): a list."),
    FunctionSpec("join", _text(_join), 2, 2, "join(sep, list)."),
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
