"""Nothing product-specific lives in the engine or the connectors: packs carry every product's logic."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTS = re.compile(r"libeo|pleo|orderry|freshbooks|ogustine|onesaas", re.IGNORECASE)


def test_no_product_name_in_engine_or_connectors() -> None:
    hits = [f"{path.relative_to(ROOT)}:{number}"
            for folder in ("engine", "connectors") for path in sorted((ROOT / folder).rglob("*"))
            if path.is_file() and "_shipped" not in path.parts and path.suffix in (".py", ".json", ".yaml", ".md", ".mako")
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
            if PRODUCTS.search(line)]
    assert hits == []
