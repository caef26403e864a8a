"""Every behaviour of shared/FEATURES.md has at least one test named after its id (test_<ID>_...) that is
not marked as an expected failure. The tests themselves prove the behaviour; this only checks none is
missing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ROOT.parent / "shared" / "FEATURES.md"


def _feature_ids() -> list[str]:
    text = FEATURES.read_text(encoding="utf-8")
    return re.findall(r"^\| ([LPOFGE][0-9]+) \|", text, flags=re.MULTILINE)


def _tests() -> dict[str, bool]:
    """test function name -> whether it is a real (not xfail) test."""
    found: dict[str, bool] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                xfail = any("xfail" in ast.unparse(d) for d in node.decorator_list)
                found[node.name] = found.get(node.name, False) or not xfail
    return found


@pytest.mark.skipif(not FEATURES.exists(), reason="shared/FEATURES.md is not beside the project")
def test_every_feature_id_has_a_test_named_after_it() -> None:
    ids = _feature_ids()
    assert len(ids) == 62, f"FEATURES.md lists {len(ids)} ids; expected 62 (L1-8, P1-8, O1-8, F1-21, G1-12, E1-5)"
    tests = _tests()
    missing = [i for i in ids if not any(name.startswith(f"test_{i}_") and real for name, real in tests.items())]
    assert missing == [], f"feature ids without a test_<ID>_ test: {missing}"
