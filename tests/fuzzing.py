"""The fuzzing harness: hostile-input strategies and the properties every input must keep.

Properties: compiling and evaluating an expression or a template, or loading YAML, either succeeds
or ends in the project's own error (a located ``RuleError``, or ``EvalFailure`` that the evaluator
turns into a located record error) — never another exception, never ``MemoryError`` (every value is
measured before it is built), never a hang. A sandbox query (the QBO query language) either answers
or raises a QBO fault (``QboError``, answered as a fault body); a webhook body (QBO's legacy
``eventNotifications``, the CloudEvents array, a product event) either parses into events with
string fields or raises ``BadNotification`` (answered 400). ``run(examples)`` runs them all; the
suite runs it with a small budget inside a memory-capped child (``tests/engine/test_fuzz_bounds.py``),
and ``python -m bench.fuzz`` for longer.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.sandbox import RealmSpec, Sandbox
from connectors.sandbox.errors import QboError
from connectors.sandbox.testing import test_config
from engine.bounds import EvalFailure, end_record, start_record
from engine.errors import Loc, PasserelleError, RuleError
from engine.expressions import ExprEnv, compile_expr
from engine.model import Src
from engine.serve.events import BadNotification, bounded_key, parse_product, parse_qbo
from engine.source import load_text
from engine.templates import compile_template

__all__ = ["PROPERTIES", "RECORD", "check_expression", "check_product_event", "check_qbo_notification",
           "check_query", "check_template", "check_yaml", "expressions", "notifications", "product_events", "queries",
           "run", "templates", "yaml_texts"]

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


# --- the sandbox's QBO query parser and executor -------------------------------------------------------

REALM = "9341450000000002"
_LONG = "a" * 499 + "c"
_Q_FIELDS = ["DisplayName", "Id", "TxnDate", "Balance", "TotalAmt", "Active", "MetaData.LastUpdatedTime",
             "CustomerRef", "AttachableRef.EntityRef.value", "Name", "DocNumber", "x.y.z", "PrimaryEmailAddr"]
_Q_VALUES = ["'a'", "'%a%'", "'" + "%a" * 30 + "%b'", "'%%%'", "'" + _LONG + "'", "'\\''", "'\\", "1", "-1", "0",
             "1.5", "9" * 30, "9" * 5000, "true", "false", "CURRENT_DATE", "'2020-01-01'", "'9999-99-99'",
             "'2020-01-01T25:61:00Z'", "''", "'é'", "'\x00'", "1e5", "'1e999999999'", "'-0'", "'NaN'"]
_Q_WORDS = ["select", "SELECT", "*", "count(*)", "from", "where", "and", "AND", "or", "like", "IN", "order by",
            "orderby", "desc", "asc", "startposition", "maxresults", ",", "(", ")", "=", "<", ">", "<=", ">=", "<>",
            ";", "Customer", "Invoice", "Item", "Nope", "'", "\\", "\n", "\t", *_Q_FIELDS, *_Q_VALUES]
_Q_OPS = ["=", "<", ">", "<=", ">=", "LIKE", "like", "IN", "!="]


def _condition(field: str, op: str, values: list[str]) -> str:
    if op in ("IN",):
        return f"{field} IN ({', '.join(values) or ''})"
    return f"{field} {op} {values[0] if values else ''}"


_conditions = st.builds(_condition, st.sampled_from(_Q_FIELDS), st.sampled_from(_Q_OPS),
                        st.lists(st.sampled_from(_Q_VALUES), max_size=4))
_structured = st.builds(
    lambda proj, entity, where, order, start, most: (
        f"select {proj} from {entity}" + (f" where {' and '.join(where)}" if where else "") + order
        + (f" startposition {start}" if start else "") + (f" maxresults {most}" if most else "")),
    st.sampled_from(["*", "count(*)", "Id, DisplayName", "*, Sku", "Id,", ""]),
    st.sampled_from(["Customer", "Invoice", "Item", "Account", "customer", "Attachable", "Nope", "Budget", ""]),
    st.lists(_conditions, max_size=4),
    st.sampled_from(["", " order by DisplayName desc", " orderby Id, TxnDate", " order DisplayName", " order by"]),
    st.sampled_from(["", "1", "0", "-5", "2", "9" * 40, "9" * 5000, "1.5"]),
    st.sampled_from(["", "1", "1000", "1001", "0", "9" * 5000]))
queries = st.one_of(_structured, st.lists(st.sampled_from(_Q_WORDS), max_size=25).map(" ".join),
                    st.text(max_size=80))


@cache
def _sandbox() -> Sandbox:
    """One sandbox per process (a US company with a few hostile rows), built on first use."""
    sandbox = Sandbox(test_config(realms=(RealmSpec(REALM, "us"),)))
    for name in (_LONG, "%" * 100, "x\\y'z", "é" * 200):
        sandbox.write(REALM, "Customer", {"DisplayName": name})
    return sandbox


def check_query(text: str) -> None:
    """A query answers a ``QueryResponse`` object or raises a QBO fault, nothing else."""
    try:
        answer = _sandbox().query(REALM, text)
    except QboError as error:
        assert error.code in ("4000", "2010") and error.status == 400, error
        return
    assert isinstance(answer, dict)


# --- webhook bodies ---------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.text(max_size=12),
                     st.sampled_from(["qbo.invoice.updated.v1", "qbo..x", "qbo.customer", "Invoice", "Update",
                                      "9341450000000001", "", "x" * 400]))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=12)
_CLOUD = {"specversion": "1.0", "id": "ce-1", "type": "qbo.invoice.updated.v1", "time": "2026-01-01T00:00:00Z",
          "intuitentityid": "42", "intuitaccountid": "9341450000000001", "data": {}}
_ENTITY = {"name": "Invoice", "id": "42", "operation": "Update", "lastUpdated": "2026-01-01T00:00:00.000Z"}


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some fields replaced by hostile values, or dropped."""
    return st.dictionaries(st.sampled_from(sorted(base)), st.one_of(_json, st.just(None)), max_size=3).map(
        lambda changes: {k: v for k, v in {**base, **changes}.items() if v is not None or k not in changes})


_cloud_bodies = st.lists(st.one_of(_mutated(_CLOUD), _json), max_size=4)
_legacy_bodies = st.builds(
    lambda realm, change, entities: {"eventNotifications": [{"realmId": realm, "dataChangeEvent": change | {
        "entities": entities}} if isinstance(change, dict) else {"realmId": realm, "dataChangeEvent": change}]},
    _scalars, st.one_of(st.just({}), _json), st.one_of(st.lists(st.one_of(_mutated(_ENTITY), _json), max_size=4), _json))
_RAW = [b"", b"\xff\xfe", b"[" * 100_000, b"{" * 50_000, b"[" + b"9" * 5000 + b"]", b"nope", b"[1e999999]", b"[NaN]",
        b'{"eventNotifications": null}', b"\x00", b'"\\ud800"']
notifications = st.one_of(
    st.one_of(_cloud_bodies, _legacy_bodies, _json).map(lambda value: json.dumps(value).encode()),
    st.sampled_from(_RAW), st.binary(max_size=64))
product_events = st.one_of(
    st.builds(lambda kind, record, event_id: json.dumps({"type": kind, "id": event_id, "data": record}).encode(),
              _scalars, st.one_of(_mutated({"id": "F1", "amount": 3}), _json), _scalars),
    st.sampled_from(_RAW), _json.map(lambda value: json.dumps(value).encode()))


def check_qbo_notification(body: bytes) -> None:
    """A QBO notification body parses into events whose fields are strings, or is a BadNotification."""
    try:
        events = parse_qbo(body)
    except BadNotification as exc:
        assert len(str(exc)) < 1000, "a refusal message must not echo the body"
        return
    for event in events:
        assert all(isinstance(v, str) for v in (event.realm, event.entity, event.entity_id, event.operation,
                                                event.last_updated, event.event_id))
        assert event.realm and event.entity and event.entity_id and event.operation
        assert len(event.dedupe_key) <= 255 and bounded_key(event.dedupe_key) == event.dedupe_key


def check_product_event(body: bytes) -> None:
    try:
        event = parse_product("product", body)
    except BadNotification:
        return
    assert isinstance(event.type, str) and event.type and isinstance(event.record_id, str) and event.record_id


PROPERTIES: dict[str, tuple[st.SearchStrategy[Any], Any]] = {
    "expression": (expressions, check_expression), "template": (templates, check_template),
    "yaml": (yaml_texts, check_yaml), "query": (queries, check_query),
    "qbo_notification": (notifications, check_qbo_notification), "product_event": (product_events, check_product_event),
}


def run(examples: int, seed: int | None = 0, only: tuple[str, ...] = ()) -> str:
    """Run every property (or those named in ``only``) over ``examples`` inputs each; raises on the
    first counterexample. ``seed=None`` draws fresh random inputs; any number derandomizes."""
    budget = settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
                      suppress_health_check=list(HealthCheck))
    for name, (strategy, check) in PROPERTIES.items():
        if not only or name in only:
            budget(given(strategy)(check))()
    return "ok"
