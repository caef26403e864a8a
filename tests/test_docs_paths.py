"""The docs name only files the project ships: every repository path written in `backticks` in README.md and
docs/*.md (and the packs' READMEs) exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("engine/", "connectors/", "docs/", "rules/", "schemas/", "scripts/", "bench/", "tests/", ".ci/",
       ".pre-commit-hooks.yaml", "pyproject.toml")
MADE_BY_THE_TUTORIAL = "rules/acme/"  # docs/tutorial.md's `passerelle init acme` writes these
CODE = re.compile(r"`([^`\s]+)`")
PLACEHOLDER = re.compile(r"[A-Z]{2,}|<|\*|\{|\.\.\.|…")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "rules").glob("*/README.md")),
            ROOT / "bench" / "README.md"]


def _named_paths(text: str) -> set[str]:
    found = set()
    for word in CODE.findall(text):
        path = word.split(":")[0].split("#")[0].rstrip(".,;)")
        if path.startswith(TOP) and not PLACEHOLDER.search(path) and not path.startswith(MADE_BY_THE_TUTORIAL):
            found.add(path)
    return found


def test_every_path_the_docs_name_exists() -> None:
    missing = []
    for document in _documents():
        for path in sorted(_named_paths(document.read_text(encoding="utf-8"))):
            if not (ROOT / path).exists():
                missing.append(f"{document.relative_to(ROOT)}: {path}")
    assert missing == []


def test_the_check_sees_paths() -> None:
    assert _named_paths("see `engine/cli/run.py` and `rules/PACK/cases/` and `docs/nowhere.md:12`") == {
        "engine/cli/run.py", "docs/nowhere.md"}
