"""Runtime failures told in the words of a rule pack, not of the Python that runs it.

A pack author sees objects, lists, numbers and text; a message naming ``mappingproxy`` or
``decimal.Decimal`` describes the interpreter's insides and helps nobody fix a rule.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["plain_message", "template_line"]

# Python type name -> what a rule author calls it.
_WORDS = {
    "mappingproxy": "object", "dict": "object", "FrozenDict": "object", "frozendict": "object",
    "OrderedDict": "object", "tuple": "list", "list": "list", "frozenset": "list", "set": "list",
    "decimal.Decimal": "number", "Decimal": "number", "int": "number", "float": "number", "str": "text",
    "NoneType": "null", "bool": "true/false", "builtin_function_or_method": "function", "method": "function",
    "function": "function", "Undefined": "undefined value", "StrictUndefined": "undefined value",
    "datetime.date": "date", "date": "date", "datetime.datetime": "date-time", "bytes": "bytes",
}
_NAME = r"([A-Za-z_][\w.]*)"


def _w(name: str) -> str:
    return _WORDS.get(name, name)


# Python's own phrasings that name types, rewritten; anything else is left as it is (a quoted name may be
# the user's own key, so names are only replaced where the phrasing says they are types).
_REWRITES: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(rf"unsupported operand type\(s\) for ([^:]+): '{_NAME}' and '{_NAME}'"),
     lambda m: f"cannot apply {m[1]} to '{_w(m[2])}' and '{_w(m[3])}'"),
    (re.compile(rf"can only concatenate {_NAME} \(not \"{_NAME}\"\) to {_NAME}"),
     lambda m: f"cannot add '{_w(m[2])}' to '{_w(m[1])}'"),
    (re.compile(rf"not supported between instances of '{_NAME}' and '{_NAME}'"),
     lambda m: f"not supported between '{_w(m[1])}' and '{_w(m[2])}'"),
    (re.compile(rf"bad operand type for unary ([^:]+): '{_NAME}'"), lambda m: f"cannot apply {m[1]} to '{_w(m[2])}'"),
    (re.compile(rf"'{_NAME} object'"), lambda m: f"'{_w(m[1])}'"),
    (re.compile(rf"'{_NAME}' object is"), lambda m: f"'{_w(m[1])}' is"),
    (re.compile(rf"argument of type '{_NAME}'"), lambda m: f"argument of type '{_w(m[1])}'"),
    (re.compile(rf"unhashable type: '{_NAME}'"), lambda m: f"cannot use a '{_w(m[1])}' as a key"),
    (re.compile(rf"must be (?:a |an )?{_NAME}, not '?{_NAME}'?"), lambda m: f"must be {_w(m[1])}, not '{_w(m[2])}'"),
    (re.compile(rf"\b{_NAME} object has no element"), lambda m: f"'{_w(m[1])}' has no element"),
    (re.compile(rf"expected {_NAME} instance, {_NAME} found"), lambda m: f"expected {_w(m[1])}, found {_w(m[2])}"),
)


def plain_message(exc: BaseException) -> str:
    """The exception's message with Python type names replaced by rule-pack words (``'mappingproxy object'
    has no attribute 'x'`` -> ``'object' has no attribute 'x'``)."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    for pattern, replace in _REWRITES:
        text = pattern.sub(replace, text)
    return text


def template_line(exc: BaseException) -> int | None:
    """The line of the template where ``exc`` was raised (Jinja2 rewrites its traceback to name
    ``<template>`` frames with the template's own line numbers), or None."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
