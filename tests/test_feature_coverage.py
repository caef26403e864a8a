"""Every behaviour of shared/FEATURES.md has at least one test named after its id (test_<ID>_...) that is
not marked as an expected failure. The tests themselves prove the behaviour; this only checks none is
missing.

The ids are kept in this repository too (``FEATURE_IDS``), so the check runs wherever the suite runs; where
FEATURES.md is at hand (beside the project, or named by ``PASSERELLE_FEATURES``) the kept list must match it."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURES = Path(os.environ.get("PASSERELLE_FEATURES") or ROOT.parent / "shared" / "FEATURES.md")
FEATURE_IDS = (
    [f"L{i}" for i in range(1, 9)] + [f"P{i}" for i in range(1, 9)] + [f"O{i}" for i in range(1, 9)]
    + [f"F{i}" for i in range(1, 22)] + [f"G{i}" for i in range(1, 13)] + [f"E{i}" for i in range(1, 6)]
)


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


def test_every_feature_id_has_a_test_named_after_it() -> None:
    ids = FEATURE_IDS
    assert len(ids) == 62
    tests = _tests()
    missing = [i for i in ids if not any(name.startswith(f"test_{i}_") and real for name, real in tests.items())]
    assert missing == [], f"feature ids without a test_<ID>_ test: {missing}"


def test_the_kept_ids_are_those_of_features_md() -> None:
    if not FEATURES.exists():
        pytest.skip(f"{FEATURES} is not here (set PASSERELLE_FEATURES to check the kept ids against it); "
                    "the coverage check above still ran on the kept ids")
    assert sorted(_feature_ids()) == sorted(FEATURE_IDS)
