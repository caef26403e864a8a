"""Templates rendered by the plain-Python fast path give Jinja's exact output, and Jinja's errors otherwise."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from engine.errors import Loc
from engine.expressions import ExprEnv
from engine.failures import plain_message
from engine.functions import EvalFailure
from engine.model import Src
from engine.templates import _ENV, CompiledTemplate, compile_template

TEMPLATES = ["{{ settings.p }}{{ record.n }}", "x {{ record.a.b }} y", "{{ record.items }}", "{{ record }}", "plain\n",
             "{{ record.n | upper }}"]
SCOPES: list[dict[str, Any]] = [
    {"settings": MappingProxyType({"p": "FB"}), "record": {"n": 12, "a": {"b": None}}},
    {"settings": {"p": None}, "record": {"n": Decimal("1.50"), "a": {"b": True}}},
    {"settings": {}, "record": {"n": "x"}},
    {"settings": {"p": 1}, "record": {"a": 3}},
    {"settings": {"p": 1}, "record": {"a": {}}},
    {"settings": {"p": 1}, "record": None},
]


def _outcome(fn: Any, scope: dict[str, Any]) -> Any:
    try:
        return fn(scope)
    except EvalFailure as exc:  # ours: Jinja's message in the pack's words, then where (" in template ...")
        return ("error", str(exc).split(" in template ")[0])
    except Exception as exc:  # Jinja's own error, compared by message once in the pack's words
        return ("error", plain_message(exc))


@pytest.mark.parametrize("text", TEMPLATES)
def test_fast_path_matches_jinja(text: str) -> None:
    compiled = compile_template(Src(text, Loc("t.yaml"), ()), ExprEnv(frozenset({"record", "settings"})))
    assert isinstance(compiled, CompiledTemplate)
    jinja = _ENV.from_string(text)
    for scope in SCOPES:
        assert _outcome(compiled, scope) == _outcome(jinja.render, scope), (text, scope)
