"""The connector's docs and public surface stay in step with the code."""

from __future__ import annotations

from pathlib import Path

import connectors.qbo
from connectors.qbo.faults import KINDS

DOC = Path(__file__).resolve().parents[3] / "docs" / "qbo-connector.md"


def test_every_fault_kind_is_in_the_docs_table_with_its_words() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind, spec in KINDS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{kind}` |")), None)
        assert row is not None, f"fault kind {kind} is not documented"
        assert f"| {spec.fault_class.value} |" in row and spec.message in row and spec.hint in row


def test_the_package_exports_resolve() -> None:
    assert connectors.qbo.__all__ == sorted(connectors.qbo.__all__)
    for name in connectors.qbo.__all__:
        assert getattr(connectors.qbo, name) is not None


def test_importing_the_entity_catalogue_stays_light() -> None:
    import subprocess
    import sys
    code = "import sys, connectors.qbo.entities; print('sqlalchemy' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=DOC.parents[1]).stdout.split()
    assert out == ["False", "False"]
