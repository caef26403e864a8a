"""Property-based fuzzing of the whole pipeline and a differential test of the expression compiler.

(a) random text, bytes and YAML-ish documents, (b) mutations of the real packs in rules/, must only
ever produce ``PasserelleError`` (collected by ``validate_paths``), never another exception or a
traceback from the CLI; (c) integer arithmetic, comparisons and boolean logic evaluate the same
with ``compile_expr`` as with simpleeval.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from simpleeval import EvalWithCompoundTypes

from engine.cli.main import cli
from engine.cli.validate import validate_paths
from engine.errors import Loc, PasserelleError
from engine.expressions import ExprEnv, compile_expr
from engine.model import Src
from engine.source import load_text
from engine.validate import validate_document

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules" / "freshbooks"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _pipeline_bytes(folder: Path, raw: bytes) -> None:
    """Write ``raw`` as a pack and validate it; every problem must come back as a located RuleError."""
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_bytes(raw)
    errors, _ = validate_paths([folder])
    for error in errors:
        assert error.code.startswith("E"), error


def _load_and_validate(text: str) -> None:
    try:
        doc = load_text(text, "fuzz.yaml")
        validate_document(doc)
    except PasserelleError:
        pass


# --- (a) random input -------------------------------------------------------------------------

YAML_ALPHABET = st.sampled_from([*"abc:- \n\t{}[],'\"&*!|>#%@`?0123456789.eE+~", "passerelle: 1\n", "kind: pack\n",
                                  "kind: pack-part\n", "<<: "])


@FUZZ
@given(st.text(max_size=400))
def test_random_text_only_raises_passerelle_errors(text: str) -> None:
    _load_and_validate(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_through_the_pipeline(work: Path, raw: bytes) -> None:
    _pipeline_bytes(work / "bytes", raw)


@FUZZ
@given(st.lists(YAML_ALPHABET, max_size=120).map("".join))
def test_yamlish_text_through_the_pipeline(work: Path, text: str) -> None:
    _load_and_validate(text)
    _pipeline_bytes(work / "yamlish", ("passerelle: 1\nkind: pack\n" + text).encode())


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=20),
                     st.sampled_from(["settings.x", "record.a + 1", "{{ record.a }}", "lookup('t', 1)", "9**9**9"]))
_keys = st.sampled_from(["passerelle", "kind", "pack", "name", "version", "settings", "tables", "flows", "machines",
                         "type", "default", "description", "rows", "fields", "from", "to", "expr", "template",
                         "each", "map", "list", "states", "initial", "transitions", "include", "x"])
_docs = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(_keys, inner, max_size=5)), max_leaves=25)


@FUZZ
@given(st.dictionaries(_keys, _docs, max_size=8))
def test_random_documents_through_the_pipeline(work: Path, data: dict[str, Any]) -> None:
    data = {"passerelle": 1, "kind": "pack", **data}
    _pipeline_bytes(work / "docs", yaml.safe_dump(data, allow_unicode=True).encode())


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_cli_never_shows_a_traceback(work: Path, monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    folder = work / "cli"
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_bytes(raw)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["validate", "."])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# --- (b) mutations of the real packs ----------------------------------------------------------

PACK_FILES = sorted(str(p.relative_to(PACK)) for p in PACK.rglob("*.yaml"))


def _mutate_data(data: Any, choice: st.DataObject) -> Any:
    """Walk to a random node and change it: delete or rename a key, change a scalar's type, swap values."""
    node = data
    while True:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            return data
        key, value = children[choice.draw(st.integers(0, len(children) - 1))]
        if isinstance(value, (dict, list)) and value and choice.draw(st.booleans()):
            node = value
            continue
        action = choice.draw(st.sampled_from(["delete", "rename", "retype", "swap"]))
        if action == "delete":
            del node[key]
        elif action == "rename" and isinstance(node, dict):
            node[f"{key}_x" if choice.draw(st.booleans()) else str(key)[:-1] or "k"] = node.pop(key)
        elif action == "swap" and len(children) > 1:
            other = children[choice.draw(st.integers(0, len(children) - 1))][0]
            node[key], node[other] = node[other], node[key]
        else:
            node[key] = choice.draw(st.sampled_from([None, True, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"a": 1}]))
        return data


def _mutate_text(text: str, choice: st.DataObject) -> str:
    lines = text.splitlines(keepends=True)
    index = choice.draw(st.integers(0, max(len(lines) - 1, 0)))
    action = choice.draw(st.sampled_from(["duplicate", "truncate", "tab", "delete_line", "dedent"]))
    if action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "truncate":
        return text[: choice.draw(st.integers(0, len(text)))]
    elif action == "tab":
        lines[index] = "\t" + lines[index]
    elif action == "delete_line":
        del lines[index]
    else:
        lines[index] = lines[index].lstrip(" ")
    return "".join(lines)


@pytest.fixture(scope="module")
def pack_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("packs") / "freshbooks"
    shutil.copytree(PACK, target)
    return target


# Each example validates the whole pack (about a second on a loaded core): 40 in the suite; set
# PASSERELLE_MUTATION_EXAMPLES for a longer run (bench/README.md, "Fuzzing").
@settings(max_examples=int(os.environ.get("PASSERELLE_MUTATION_EXAMPLES", "40")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@seed(20260401)
@given(st.sampled_from(PACK_FILES), st.booleans(), st.data())
def test_mutated_real_pack_never_crashes(pack_copy: Path, name: str, structural: bool, choice: st.DataObject) -> None:
    original = (PACK / name).read_text(encoding="utf-8")
    if structural:
        data = _mutate_data(yaml.safe_load(original), choice)
        mutated = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    else:
        mutated = _mutate_text(original, choice)
    target = pack_copy / name
    target.write_text(mutated, encoding="utf-8")
    try:
        errors, _counts = validate_paths([pack_copy])
        for error in errors:
            assert error.loc is not None, error
    finally:
        target.write_text(original, encoding="utf-8")


# --- (c) differential: compile_expr against simpleeval on integers ----------------------------

_ENV = ExprEnv(frozenset({"x", "y"}))
_leaf = st.one_of(st.integers(-50, 50).map(str), st.sampled_from(["x", "y"]))


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "%", "<", "<=", ">", ">=", "==", "!=",
                                               " and ", " or "]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    power = st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]} ** {t[1]})")
    unary = st.tuples(st.sampled_from(["-", "not ", "+"]), inner).map(lambda t: f"({t[0]}{t[1]})")
    cond = st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
    return st.one_of(binary, power, unary, cond)


_exprs = st.recursive(_leaf, _combine, max_leaves=8)


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "value", fn()
    except ZeroDivisionError:
        return "error", "division by zero"
    except Exception as exc:
        return "error", type(exc).__name__


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_exprs, st.integers(-20, 20), st.integers(-20, 20))
def test_integer_expressions_match_simpleeval(text: str, x: int, y: int) -> None:
    compiled = compile_expr(Src(text, Loc("fuzz", 1, 1)), _ENV)
    if isinstance(compiled, list):
        pytest.fail(f"{text!r} did not compile: {compiled}")
    ours = _outcome(lambda: compiled({"x": x, "y": y}))
    theirs = _outcome(lambda: EvalWithCompoundTypes(names={"x": x, "y": y}).eval(text))
    if theirs[0] == "error" or ours[0] == "error":
        # Only division by zero may fail here; both sides must agree that it did.
        assert ours[0] == theirs[0] == "error", (text, x, y, ours, theirs)
        return
    assert ours[1] == theirs[1] and type(ours[1]) is type(theirs[1]), (text, x, y, ours, theirs)
