"""Hostile expressions and templates are bounded: each input below is first shown to be hostile (what
it would build), then shown to end as a located error — E405 at compile time (``validate`` never hangs)
or a located E601 record error at run time — within a memory cap, never a traceback or a hang.

Each case runs in a forked child capped in memory (``tests/bounded.py``); a value built before it is
measured would die there with MemoryError, and the test would fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.bounds import MAX_STRING, MAX_WORK, size_of
from engine.cli.validate import validate_paths
from engine.errors import Loc
from engine.evaluate import evaluate
from engine.expressions import ExprEnv, compile_expr
from engine.model import Src
from engine.pipeline import run_pipeline
from tests.bounded import run_bounded

PACK = """passerelle: 1
kind: pack
pack: {{name: hostile, version: 1.0.0}}
connections:
  qbo: {{connector: qbo}}
  product: {{connector: file, resources: {{items: {{path: items.json}}}}}}
flows:
  items:
    from: {{connection: product, entity: items}}
    to: {{connection: qbo, entity: Purchase}}
    key: str(record.id)
    fields:
      PaymentType: {{const: Cash}}
      PrivateNote: {{{kind}: {text}}}
"""
FIELD_LINE = 14  # PrivateNote's line in PACK
FIELD_COL = 27  # its value's column


def _write(folder: Path, kind: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(PACK.format(kind=kind, text=json.dumps(text)), encoding="utf-8")
    return folder


def _validate(folder: str) -> list[tuple[str, str, str]]:
    errors, _ = validate_paths([Path(folder)])
    return [(e.code, str(e.loc), e.message) for e in errors]


def _evaluate(folder: str, record: dict[str, Any]) -> tuple[str, str, str, str]:
    flow = run_pipeline(Path(folder)).compiled.flows["items"]
    result = evaluate(flow, record, {})
    error = result.error
    if error is None:
        return result.action, "", "", repr(result.payload)[:200]
    return result.action, error.code, str(error.loc), error.message


# -- compile time: constant expressions obey the same bounds, so `validate` never hangs -----------------

CONSTANT_EXPRESSIONS = [
    ("9**9**9", "exponent 387420489 is larger than 100"),
    ("((2**100)**100)**100", "power would have more than 4300 digits"),
    ("'%2000000000s' % 1", "% formatting width 2000000000 is larger than 1000"),
    ("'%.2000000000f' % 1", "% formatting width 2000000000 is larger than 1000"),
    ("'%*s' % (record.n, 1)", "`*` widths are not allowed"),  # a constant format is checked whatever the data
    ("[[1]*100000]*100000", "repetition would build more than 100000 items"),
    ("(((1,)*100000,)*100000,)", "repetition would build more than 100000 items"),
    ("'ab'*40000 + 'ab'*40000", "concatenation would build more than 100000 items"),
    ("decimal('1e3000000000')", "number 1E+3000000000 is out of range"),
    ("int(decimal('1e300000000'))", "number 1E+300000000 is out of range"),
    ("int(decimal('9e4000') * decimal('9e4000'))", "has more than 4300 digits"),
    ("decimal('1e4000') ** 2", "power would be out of range"),
    ("add_days('2020-01-01', 10**10)", "10000000000 days is out of the range of dates"),
    ("add_days('9999-12-01', 100)", "leaves the range of dates"),
    ("join('ab'*30000, [1, 2, 3])", "join() would build more than 100000 characters"),
    ("replace('a'*50000, 'a', 'bbb')", "replace would build more than 100000 characters"),
    ("['a'*100000 for x in 'a'*100]", "evaluation budget exceeded"),
    ("-" * 1900 + "1", "nests deeper than 60 levels"),
    ("+".join(["1"] * 900), "nests deeper than 60 levels"),
    ("[" * 250 + "]" * 250, "too many nested parentheses"),
    ("1" + " + 1" * 4000, "is too long"),  # the schema's limit, before the compiler's
]


@pytest.mark.parametrize(("text", "fragment"), CONSTANT_EXPRESSIONS, ids=[c[1][:30] for c in CONSTANT_EXPRESSIONS])
def test_a_constant_expression_over_a_bound_is_a_located_compile_error(tmp_path: Path, text: str,
                                                                       fragment: str) -> None:
    errors = run_bounded(_validate, str(_write(tmp_path / "pack", "expr", text)))
    assert len(errors) == 1, errors
    code, loc, message = errors[0]
    assert code in ("E204", "E404", "E405") and fragment in message, errors
    assert loc.endswith(f"pack.yaml:{FIELD_LINE}:{FIELD_COL}"), loc


def test_the_compiler_refuses_long_text_whatever_its_source() -> None:
    """Expressions that do not come through the schema (e.g. built by a connector) are bounded too."""
    result = compile_expr(Src("1" + " + 1" * 4000, Loc("x.yaml", 3, 5)), ExprEnv(frozenset()))
    assert isinstance(result, list) and [(e.code, str(e.loc)) for e in result] == [("E405", "x.yaml:3:5")]
    assert "over the 10000-character limit" in result[0].message


def test_the_hostile_constants_would_really_be_huge() -> None:
    """What the cases above would build without the bounds (measured on a small scale, not built)."""
    assert (2**100).bit_length() * 100 * 100 > 4300 * 3.33  # ((2**100)**100)**100 is a million digits
    assert size_of([[1] * 1000] * 100) == 100 + 100 * 1000  # nested repetition multiplies
    assert size_of([[1] * 100000] * 2) > MAX_STRING
    assert MAX_WORK < 100 * 100000  # a comprehension over 100 items building 100,000 each


# -- run time: hostile product data is a located record error -------------------------------------------

BIG_LIST = list(range(20_000))
RUNTIME_CASES = [
    ("record.f % (record.n, 1)", {"f": "%*s", "n": 2_000_000_000}, "`*` widths are not allowed"),
    ("record.f % 1", {"f": "%.2000000000f"}, "% formatting width 2000000000 is larger than 1000"),
    ("decimal(record.d)", {"d": "1e3000000000"}, "out of range"),
    ("int(record.d)", {"d": "1e300000000"}, "out of range"),
    ("decimal(record.d) > 0", {"d": "9" * 5000}, "out of range"),
    ("str(record.n ** 100 ** 1 * record.n ** 100)", {"n": 10**60}, "more than 4300 digits"),
    ("add_days(record.date, record.n * 1000)", {"date": "2020-01-01", "n": 10**6}, "out of the range of dates"),
    ("[record.s * 50000 for x in record.l]", {"s": "ab", "l": list(range(100))}, "evaluation budget exceeded"),
    ("len([x in record.l for x in record.l])", {"l": BIG_LIST}, "evaluation budget exceeded"),
    ("sum([sum(record.l) for x in record.l])", {"l": BIG_LIST}, "evaluation budget exceeded"),
    ("len([max(record.l) for x in record.l])", {"l": BIG_LIST}, "evaluation budget exceeded"),
    ("join(',', record.l * 10)", {"l": ["x" * 1000] * 100}, "repetition would build more than 100000 items"),
    ("replace(record.s, 'a', record.s)", {"s": "a" * 1000}, "replace would build more than 100000 characters"),
    ("str(record.l)", {"l": [["x"] * 1000] * 200}, "str() would build more than 100000 characters"),
]


@pytest.mark.parametrize(("text", "record", "fragment"), RUNTIME_CASES, ids=[c[0][:30] for c in RUNTIME_CASES])
def test_hostile_record_data_is_a_located_record_error(tmp_path: Path, text: str, record: dict[str, Any],
                                                       fragment: str) -> None:
    folder = str(_write(tmp_path / "pack", "expr", text))
    action, code, loc, message = run_bounded(_evaluate, folder, {"id": 1, **record})
    assert (action, code) == ("error", "E601"), (action, code, message)
    assert fragment in message and "record '1'" in message, message
    assert loc.endswith(f"pack.yaml:{FIELD_LINE}:{FIELD_COL}"), loc


def test_each_is_charged_for_its_items(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    _write(folder, "expr", "'x'")
    text = (folder / "pack.yaml").read_text().replace(
        "      PaymentType: {const: Cash}\n",
        "      PaymentType: {const: Cash}\n"
        "      Line: {each: record.l, as: a, map: {each: record.l, as: b, map: {expr: a == b}}}\n")
    (folder / "pack.yaml").write_text(text)
    action, code, _, message = run_bounded(_evaluate, str(folder), {"id": 1, "l": list(range(5000))})
    assert (action, code) == ("error", "E601") and "evaluation budget exceeded" in message, message


def test_an_ordinary_record_stays_well_within_the_budget(tmp_path: Path) -> None:
    text = "join(' ', [str(x * 2) for x in record.l if x in record.keep]) + ' ' + '%05d' % record.n"
    folder = str(_write(tmp_path / "pack", "expr", text))
    action, _, _, payload = run_bounded(_evaluate, folder, {"id": 1, "l": list(range(300)), "keep": [1, 2],
                                                            "n": 42})
    assert action == "write" and "2 4 00042" in payload, payload


# -- templates ---------------------------------------------------------------------------------------------

TEMPLATE_COL = 31  # the template's column in PACK
MACRO_FANOUT = "{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}"
TEMPLATE_COMPILE_CASES = [
    ("{% include 'secrets.yaml' %}", "E403", "`include` is not allowed"),
    ("{% extends 'base.html' %}", "E403", "`extends` is not allowed"),
    ("{% import 'macros.html' as m %}", "E403", "`import` is not allowed"),
    ("{% from 'macros.html' import m %}", "E403", "`from ... import` is not allowed"),
    ("{{ record.s.ljust(2000000000) }}", "E403", "method calls are not allowed"),
    ("{{ 'x'.center(10**9) }}", "E403", "method calls are not allowed"),
    ("{{ record.l.append(1) }}", "E403", "method calls are not allowed"),
    ("{% for x in record.l recursive %}{{ loop(record.l) }}{% endfor %}", "E403", "recursive loops are not allowed"),
    ("{{ '%2000000000s' % 1 }}", "E405", "% formatting width 2000000000 is larger than 1000"),
    ("{{ 'ab' * 100000 }}", "E405", "repetition would build more than 100000 items"),
    ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "E405", "template recursion is too deep"),
    (MACRO_FANOUT + "{{ m(40) }}", "E405", "evaluation budget exceeded"),
    ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "E405", "nests deeper than 60 levels"),
    ("{{ " + "-" * 1500 + "1 }}", "E405", "nests deeper than 60 levels"),
]


@pytest.mark.parametrize(("text", "code", "fragment"), TEMPLATE_COMPILE_CASES,
                         ids=[c[0][:30] for c in TEMPLATE_COMPILE_CASES])
def test_a_hostile_template_is_a_located_compile_error(tmp_path: Path, text: str, code: str, fragment: str) -> None:
    errors = run_bounded(_validate, str(_write(tmp_path / "pack", "template", text)))
    assert [(e[0], e[1].rsplit("/", 1)[-1]) for e in errors] == [(code, f"pack.yaml:{FIELD_LINE}:{TEMPLATE_COL}")], \
        errors
    assert fragment in errors[0][2], errors


TEMPLATE_RUNTIME_CASES = [
    ("{{ '%*s' % (record.n, 1) }}", {"n": 2_000_000_000}, "`*` widths are not allowed"),
    ("{{ record.s ~ record.s ~ record.s }}", {"s": "x" * 40_000}, "~ would build more than 100000 characters"),
    ("{{ record.s + record.s + record.s }}", {"s": "x" * 40_000}, "concatenation would build more than 100000"),
    ("{{ record.l | join(record.s) }}", {"l": list(range(100)), "s": "x" * 2000}, "join would build more than"),
    ("{% for a in record.l %}{{ record.s }}{% endfor %}", {"l": list(range(1000)), "s": "x" * 1000},
     "template output is longer than 100000 characters"),
    ("{% for a in record.l %}{% for b in record.l %}{% for c in record.l %}{% endfor %}{% endfor %}{% endfor %}",
     {"l": list(range(2000))}, "evaluation budget exceeded"),
    ("{% for a in record.l %}{{ record.l | sum }}{% endfor %}", {"l": list(range(5000))}, "evaluation budget exceeded"),
    (MACRO_FANOUT + "{{ m(record.n) }}", {"n": 40}, "evaluation budget exceeded"),
    ("{{ record.s | replace('a', record.s) }}", {"s": "a" * 1000}, "replace would build more than 100000"),
]


@pytest.mark.parametrize(("text", "record", "fragment"), TEMPLATE_RUNTIME_CASES,
                         ids=[c[0][:30] for c in TEMPLATE_RUNTIME_CASES])
def test_a_hostile_template_over_record_data_is_a_located_record_error(tmp_path: Path, text: str,
                                                                      record: dict[str, Any], fragment: str) -> None:
    folder = str(_write(tmp_path / "pack", "template", text))
    action, code, loc, message = run_bounded(_evaluate, folder, {"id": 1, **record})
    assert (action, code) == ("error", "E601"), (action, code, message)
    assert fragment in message and "record '1'" in message, message
    assert loc.endswith(f"pack.yaml:{FIELD_LINE}:{TEMPLATE_COL}"), loc


def test_an_ordinary_template_renders_as_before(tmp_path: Path) -> None:
    text = "A {{ record.s }} {{ record.n + 1 }} {{ '%05d' % record.n }} {{ record.s ~ '-' ~ record.n }} " \
           "{% for x in record.l %}{{ x }}{% endfor %}"
    folder = str(_write(tmp_path / "pack", "template", text))
    action, _, _, payload = run_bounded(_evaluate, folder, {"id": 1, "s": "ab", "n": 42, "l": [1, 2]})
    assert action == "write" and "A ab 43 00042 ab-42 12" in payload, payload


# -- YAML: sizes are checked before reading ----------------------------------------------------------------

def _load_error(path: str) -> str:
    from engine.errors import PasserelleError
    from engine.source import load_file

    try:
        load_file(path)
    except PasserelleError as exc:
        return exc.errors[0].format()
    return "loaded"


def test_a_ten_gigabyte_rule_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "pack.yaml"
    with huge.open("wb") as handle:  # sparse: ten gigabytes that take no disk, and would not fit the memory cap
        handle.truncate(10_000_000_000)
    message = run_bounded(_load_error, str(huge))
    assert message.endswith("error[E101]: file is 10000000000 bytes, over the 5000000-byte limit for rule files")


def test_a_device_is_refused_after_reading_one_byte_past_the_limit() -> None:
    assert run_bounded(_load_error, "/dev/zero").endswith("error[E101]: file is over the 5000000-byte limit for "
                                                          "rule files")
