"""The fuzzing harness: hostile-input strategies and the properties every input must keep.

Properties: compiling and evaluating an expression or a template, or loading YAML, either succeeds
or ends in the project's own error (a located ``RuleError``, or ``EvalFailure`` that the evaluator
turns into a located record error) — never another exception, never ``MemoryError`` (every value is
measured before it is built), never a hang. ``run(examples)`` runs them all; the suite runs it with
a small budget inside a memory-capped child (``tests/engine/test_fuzz_bounds.py``), and
``python -m bench.fuzz`` for longer.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bounds import EvalFailure, end_record, start_record
from engine.errors import Loc, PasserelleError, RuleError
from engine.expressions import ExprEnv, compile_expr
from engine.model import Src
from engine.source import load_text
from engine.templates import compile_template

__all__ = ["RECORD", "check_expression", "check_template", "check_yaml", "expressions", "run", "templates",
           "yaml_texts"]

ENV = ExprEnv(frozenset({"record"}))
RECORD: dict[str, Any] = {"n": 10**6, "s": "ab" * 50, "l": list(range(3000)), "big": "9" * 4000, "d": "1e3000000000",
                          "f": "%*s", "m": {"a": [1, 2], "b": None}, "neg": -(10**9), "date": "2020-01-01"}

_ATOMS = ["record.n", "record.s", "record.l", "record.big", "record.d", "record.f", "record.m", "record.m.a",
          "record.neg", "record.date", "record.missing", "1", "0", "-1", "2", "100", "10**6", "1.5", "'a'", "''",
          "'%5d'", "'%*s'", "'%.3000f'", "'%s'", "[1, 2]", "[record.l]", "[]", "(1,)", "None", "True", "{'k': 1}",
          "decimal(record.d)", "decimal(record.big)", "int(record.big)", "str(record.l)", "len(record.l)"]
_BINARY = ["+", "-", "*", "/", "//", "%", "**", "==", "<", "in", "not in", "and", "or"]
_CALLS = ["str", "int", "decimal", "len", "sum", "max", "upper", "strip", "round_money", "first", "last", "date"]


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(inner, st.sampled_from(_BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    call = st.tuples(st.sampled_from(_CALLS), inner).map(lambda t: f"{t[0]}({t[1]})")
    pair = st.tuples(st.sampled_from(["join", "add_days", "get", "replace(record.s, 'a',", "zfill", "truncate"]),
                     inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})" if not t[0].endswith(",")
                                       else f"{t[0]} {t[1]})")
    comp = st.tuples(inner, inner).map(lambda t: f"[{t[0]} for x in {t[1]}]")
    cond = st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
    index = st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]")
    return st.one_of(binary, call, pair, comp, cond, index)


expressions = st.recursive(st.sampled_from(_ATOMS), _combine, max_leaves=12)

_TEXT = ["x", "{{ record.s }}", "{{ record.big }}", "{{ record.l }}", "{{ record.n * record.n }}",
         "{{ record.s * 100000 }}", "{{ record.f % (record.n, 1) }}", "{{ '%9999s' % 1 }}", "{{ record.s ~ record.big }}",
         "{{ record.l | join(record.big) }}", "{{ record.l | sum }}", "{{ record.missing }}", "{{ record.s.upper() }}",
         "{% include 'x' %}", "{% import 'x' as y %}", "{{ record.__class__ }}", "{{ 9 ** 9 ** 9 }}", "{{ (",
         "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "{{ record.d | int }}", "{{ record.big | int }}"]


def _wrap(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    loop = inner.map(lambda t: "{% for x in record.l %}" + t + "{% endfor %}")
    cond = inner.map(lambda t: "{% if record.n %}" + t + "{% endif %}")
    pair = st.tuples(inner, inner).map("".join)
    return st.one_of(loop, cond, pair)


templates = st.recursive(st.sampled_from(_TEXT), _wrap, max_leaves=6)

_YAML = ["a: 1\n", "b: &x [1, 2]\n", "c: *x\n", "d: 0x" + "f" * 300 + "\n", "e: " + "9" * 200 + "\n", "f: 1.5e999\n",
         "g: !!python/object:os.system x\n", "h: [" * 70 + "]" * 70 + "\n", "- &a [*a]\n", "i: 1:2:3:4:5\n",
         "passerelle: 1\n", "kind: pack\n", "<<: *x\n", "\t", "'", "{", "j: &y {k: *y}\n", "l: .nan\n", "m: 1_0\n"]
yaml_texts = st.lists(st.sampled_from(_YAML), max_size=20).map("".join)


def _only_ours(errors: list[RuleError]) -> None:
    for error in errors:
        assert error.code.startswith("E") and error.loc is not None, error


def check_expression(text: str) -> None:
    """Compile ``text``; when it compiles, evaluate it over RECORD within one record's budget."""
    compiled = compile_expr(Src(text, Loc("fuzz.yaml", 1, 1)), ENV)
    if isinstance(compiled, list):
        _only_ours(compiled)
        return
    start_record()
    try:
        compiled({"record": RECORD})
    except (EvalFailure, TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError):
        pass  # each becomes a located record error in evaluate(); MemoryError and RecursionError do not pass
    finally:
        end_record()


def check_template(text: str) -> None:
    compiled = compile_template(Src(text, Loc("fuzz.yaml", 1, 1)), ENV)
    if isinstance(compiled, list):
        _only_ours(compiled)
        return
    start_record()
    try:
        compiled({"record": RECORD})
    except (EvalFailure, TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError):
        pass
    finally:
        end_record()


def check_yaml(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except PasserelleError as exc:
        _only_ours(list(exc.errors))


def run(examples: int, seed: int | None = 0) -> str:
    """Run every property over ``examples`` inputs each; raises on the first counterexample."""
    budget = settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
                      suppress_health_check=list(HealthCheck))
    for strategy, check in ((expressions, check_expression), (templates, check_template), (yaml_texts, check_yaml)):
        budget(given(strategy)(check))()
    return "ok"
