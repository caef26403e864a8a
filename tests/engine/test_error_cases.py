"""Bad-input suite: every folder in tests/cases/errors/ holds one mistake and the exact report expected.

Each case runs ``passerelle validate .`` in-process with the case folder as working directory, so the
paths in messages are relative and stable. The expected report is a syrupy snapshot stored as
``expected.txt`` beside the inputs; ``pytest --snapshot-update`` rewrites it (review the diff by eye).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion

from engine.cli.main import cli
from engine.source import DEFAULT_LIMITS
from tests.snapshots import CaseFolderSnapshot, case_folder_snapshot

CASES_DIR = Path(__file__).resolve().parent.parent / "cases" / "errors"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
LOCATION_LINE = re.compile(r"^\S+:\d+:\d+: error\[E\d{3}\]: ", re.MULTILINE)


def _huge_file(folder: Path) -> None:
    """Over the byte limit: written at test time so no multi-megabyte file is committed."""
    line = "# padding padding padding padding padding padding padding padding padding padding\n"
    body = "passerelle: 1\nkind: pack\n" + line * (DEFAULT_LIMITS.max_bytes // len(line) + 1)
    (folder / "pack.yaml").write_text(body, encoding="utf-8")


def _huge_hex_integer(folder: Path) -> None:
    """A 100,000-digit hex literal (Python would build it as an int without complaint)."""
    pack = folder / "pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace("default: 0x0", "default: 0x" + "f" * 100_000),
                    encoding="utf-8")


def _many_anchors(folder: Path) -> None:
    """One anchor more than the loader takes, and not a single alias."""
    anchors = "".join(f"  - &a{i} x\n" for i in range(DEFAULT_LIMITS.max_anchors + 1))
    with (folder / "pack.yaml").open("a", encoding="utf-8") as pack:
        pack.write("anchors:\n" + anchors)


def _csv_symlink_outside(folder: Path) -> None:
    """tables/taxes.csv links to a file beside (outside) the pack's folder."""
    outside = folder.parent / "outside.csv"
    outside.write_text("key,value\nsecret,do not print me\n", encoding="utf-8")
    (folder / "tables").mkdir()
    (folder / "tables" / "taxes.csv").symlink_to(outside)


# Cases whose input is generated rather than committed.
GENERATED: dict[str, Callable[[Path], None]] = {"huge_file": _huge_file, "huge_hex_integer": _huge_hex_integer,
                                                "many_anchors": _many_anchors,
                                                "csv_symlink_outside": _csv_symlink_outside}


def _extension_for(case_dir: Path) -> type[CaseFolderSnapshot]:
    return case_folder_snapshot(case_dir)


def run_validate(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["validate", "."], catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nUNEXPECTED EXCEPTION: {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize("case", CASES)
def test_error_case(case: str, snapshot: SnapshotAssertion, monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Path) -> None:
    case_dir = CASES_DIR / case
    folder = case_dir
    if case in GENERATED:
        folder = tmp_path / case
        shutil.copytree(case_dir, folder, ignore=shutil.ignore_patterns("expected.txt"))
        GENERATED[case](folder)
    code, output = run_validate(folder, monkeypatch)
    assert "Traceback" not in output and "UNEXPECTED EXCEPTION" not in output, output
    assert code == 1, output
    assert LOCATION_LINE.search(output), f"no file:line:col location in:\n{output}"
    assert output == snapshot(extension_class=_extension_for(case_dir))
