"""Bounds on what compiling a rule or evaluating one record may cost.

Rule packs and product data are both untrusted, so every value an expression or template builds is
measured before it is built (``size_of``), and one record's evaluation draws on a work budget: each
item iterated (comprehensions, ``each``, template loops, list functions) and each item built
(repetitions, concatenations, text functions) is charged. A runaway rule is then a record error in
bounded time and memory, never a hang. Charging is a subtraction on a thread-local counter, so the
common, small cases stay cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = [
    "MAX_DECIMAL_EXPONENT", "MAX_DEPTH", "MAX_DIGITS", "MAX_EXPRESSION", "MAX_FORMAT_WIDTH", "MAX_POWER",
    "MAX_STRING", "MAX_WORK", "EvalFailure", "charge", "check_size", "depth", "end_record", "size_of", "start_record",
]

Node = TypeVar("Node")


def depth(tree: Node, children: Callable[[Node], Iterable[Node]]) -> int:
    """How deeply ``tree`` nests, measured without recursion (so a deep tree cannot overflow the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest

MAX_STRING = 100_000  # longest string or list (counting nested items) an expression or template may build
MAX_POWER = 100  # largest exponent of `**`
MAX_DIGITS = 4_300  # largest whole number, in decimal digits (Python's own limit for int <-> text)
MAX_DECIMAL_EXPONENT = 4_300  # a decimal's magnitude, 10**±this at most (so printing it stays small)
MAX_FORMAT_WIDTH = 1_000  # largest width or precision in `%` formatting
MAX_EXPRESSION = 10_000  # characters in one expression or template
MAX_DEPTH = 60  # nesting of one expression or template (operators, calls, brackets)
MAX_WORK = 1_000_000  # items iterated plus items built while evaluating one record


class EvalFailure(Exception):
    """A runtime problem in an expression (bad type, missing value); the evaluator adds the location."""

    def __init__(self, message: str, loc: object = None) -> None:
        super().__init__(message)
        self.loc = loc  # the rule's Loc when the raiser knows it better than the traceback does


class _Work(threading.local):
    """What is left of the current record's budget; ``armed`` outside a record evaluation is False, and
    then an exhausted budget is silently refilled (a caller that never starts a record is never failed)."""

    left: int = MAX_WORK
    armed: bool = False


_WORK = _Work()


def start_record(budget: int = MAX_WORK) -> None:
    """Give the evaluation that starts now a fresh budget, enforced."""
    _WORK.left = budget
    _WORK.armed = True


def end_record() -> None:
    _WORK.armed = False
    _WORK.left = MAX_WORK


def charge(units: int) -> None:
    """Spend ``units`` of the current budget; raises once it is exhausted."""
    work = _WORK
    work.left -= units
    if work.left < 0:
        _exhausted(work)


def _exhausted(work: _Work) -> None:
    if work.armed:
        work.left = 0
        raise EvalFailure(f"evaluation budget exceeded: more than {MAX_WORK} items iterated or built for one record")
    work.left = MAX_WORK


_CONTAINERS = (str, bytes, list, tuple, dict)


def size_of(value: Any, limit: int = MAX_STRING) -> int:
    """Items in a string or container, nested ones counted, shared ones counted each time; stops past ``limit``.

    Walks at most about ``limit`` items, so measuring is as cheap as the value is small.
    """
    if type(value) is str:
        return len(value)
    total = 0
    stack = [value]
    push, pop = stack.append, stack.pop
    while stack:
        item = pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
            continue
        total += len(item)
        if total > limit:
            return total
        for child in (item.values() if isinstance(item, dict) else item):
            if isinstance(child, _CONTAINERS):
                push(child)
    return total


def check_size(value: Any, what: str = "result") -> Any:
    """``value`` when it holds at most MAX_STRING items (nested counted), charged to the budget."""
    if type(value) is str:
        size = len(value)
    elif isinstance(value, (list, tuple, dict)):
        size = size_of(value)
    else:
        return value
    if size > MAX_STRING:
        raise EvalFailure(f"{what} would hold more than {MAX_STRING} items")
    work = _WORK
    work.left -= size
    if work.left < 0:
        _exhausted(work)
    return value
