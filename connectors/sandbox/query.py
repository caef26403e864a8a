"""The QBO query language, parsed into a frozen :class:`Query`.

``SELECT * | COUNT(*) | field[, field] FROM Entity [WHERE c AND c…] [ORDERBY|ORDER BY f [ASC|DESC], …]
[STARTPOSITION n] [MAXRESULTS n]``; conditions use ``= < > <= >= IN LIKE``. Keywords are
case-insensitive; strings are single-quoted with backslash escapes. OR, JOIN and GROUP BY are
refused, as QBO does, with fault 4000.

The text comes from whoever calls the sandbox, so it is bounded: at most ``MAX_QUERY_LENGTH``
characters, and STARTPOSITION/MAXRESULTS of at most ``MAX_INTEGER_DIGITS`` digits (a 5,000-digit
number is a fault, not a ``ValueError`` from ``int()``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from connectors.sandbox.errors import QboError

__all__ = ["CURRENT_DATE", "MAX_INTEGER_DIGITS", "MAX_QUERY_LENGTH", "Condition", "Order", "Query", "Value",
           "like", "parse_query"]


class _CurrentDate:
    def __repr__(self) -> str:
        return "CURRENT_DATE"


CURRENT_DATE = _CurrentDate()
Value = str | Decimal | bool | _CurrentDate
MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
MAX_QUERY_LENGTH = 1_000_000  # characters; a sandbox bound (QBO documents none): 1000-value IN lists fit many times
MAX_INTEGER_DIGITS = 18


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of = < > <= >= IN LIKE
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    entity: str
    fields: tuple[str, ...] = ()  # empty with star=True: every field
    star: bool = True
    count: bool = False
    where: tuple[Condition, ...] = ()
    order: tuple[Order, ...] = ()
    start: int = 1
    max_results: int = DEFAULT_RESULTS


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, number, op, punct, eof
    text: str
    column: int


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<punct>[*,()])
  | (?P<ident>[A-Za-z_][\w.]*)
""", re.VERBOSE)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _parse_error(text[position], position + 1, "<IDENTIFIER>")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("eof", "<EOF>", len(text) + 1))
    return tokens


def _parse_error(found: str, column: int, expected: str) -> QboError:
    return QboError("4000", f"QueryParserError: Encountered \" \"{found}\" \"\" at line 1, column {column}. "
                            f"Was expecting one of: {expected}")


def _invalid(detail: str) -> QboError:
    return QboError("4000", f"QueryValidationError: {detail}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.current
        if token.kind == "ident" and token.text.upper() in words:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise _parse_error(self.current.text, self.current.column, f'"{word.lower()}"')

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.current
        if token.kind != kind or (text is not None and token.text != text):
            raise _parse_error(token.text, token.column, f'"{text or kind}"')
        return self.advance()

    def identifier(self) -> str:
        return self.expect("ident").text

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return Decimal(token.text)
        if token.kind == "ident" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if token.kind == "ident" and token.text.upper() == "CURRENT_DATE":
            return CURRENT_DATE
        raise _parse_error(token.text, token.column, "<STRING> <NUMBER> <BOOLEAN>")

    def projection(self) -> tuple[tuple[str, ...], bool, bool]:
        if self.keyword("COUNT"):
            self.expect("punct", "(")
            self.expect("punct", "*")
            self.expect("punct", ")")
            return (), False, True
        star = False
        fields: list[str] = []
        while True:
            if self.current.kind == "punct" and self.current.text == "*":
                self.advance()
                star = True
            else:
                fields.append(self.identifier())
            if not (self.current.kind == "punct" and self.current.text == ","):
                return tuple(fields), star, False
            self.advance()

    def condition(self) -> Condition:
        field = self.identifier()
        token = self.current
        if self.keyword("IN"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.current.kind == "punct" and self.current.text == ",":
                self.advance()
                values.append(self.value())
            self.expect("punct", ")")
            return Condition(field, "IN", tuple(values))
        if self.keyword("LIKE"):
            value = self.value()
            if not isinstance(value, str):
                raise _invalid("LIKE needs a quoted string")
            return Condition(field, "LIKE", (value,))
        if token.kind == "op" and token.text in ("=", "<", ">", "<=", ">="):
            self.advance()
            return Condition(field, token.text, (self.value(),))
        raise _parse_error(token.text, token.column, '"=" "<" ">" "<=" ">=" "in" "like"')

    def order(self) -> tuple[Order, ...]:
        orders = []
        while True:
            field = self.identifier()
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
            orders.append(Order(field, descending))
            if not (self.current.kind == "punct" and self.current.text == ","):
                return tuple(orders)
            self.advance()

    def integer(self) -> int:
        token = self.expect("number")
        if "." in token.text:
            raise _invalid(f"{token.text[:40]} is not an integer")
        if len(token.text.lstrip("-")) > MAX_INTEGER_DIGITS:
            raise _invalid(f"value {token.text[:20]}... is too large. Max allowed value is {MAX_RESULTS}")
        return int(token.text)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields, star, count = self.projection()
        self.expect_keyword("FROM")
        entity = self.identifier()
        where: list[Condition] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order: tuple[Order, ...] = ()
        start, max_results = 1, DEFAULT_RESULTS
        while self.current.kind != "eof":
            if self.keyword("ORDERBY") or (self.keyword("ORDER") and self._by()):
                order = self.order()
            elif self.keyword("STARTPOSITION"):
                start = self.integer()
            elif self.keyword("MAXRESULTS"):
                max_results = self.integer()
            else:
                raise _parse_error(self.current.text, self.current.column,
                                   '<EOF> <AND> "maxresults" "orderby" "startposition"')
        if max_results > MAX_RESULTS:
            raise _invalid(f"value {max_results} is too large. Max allowed value is {MAX_RESULTS}")
        if max_results < 1 or start < 1:
            raise _invalid("STARTPOSITION and MAXRESULTS must be at least 1")
        return Query(entity, fields, star, count, tuple(where), order, start, max_results)

    def _by(self) -> bool:
        self.expect_keyword("BY")
        return True


def parse_query(text: str) -> Query:
    """Parse one query; fault 4000 on any syntax error."""
    if not text or not text.strip():
        raise _parse_error("<EOF>", 1, '"select"')
    if len(text) > MAX_QUERY_LENGTH:
        raise _invalid(f"the query is {len(text)} characters long; at most {MAX_QUERY_LENGTH} are read")
    return _Parser(text.strip().rstrip(";")).parse()


def like(text: str, pattern: str) -> bool:
    """QBO's LIKE (``%`` matches any run of characters, case-insensitive) in linear passes, never a
    regex: ``'%a%a%a…b'`` against a long run of ``a`` would make a backtracking matcher hang."""
    parts = pattern.casefold().split("%")
    text = text.casefold()
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    position = len(first)
    for part in middle:  # leftmost placement of each fixed part is always the best one for `%` globs
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True
