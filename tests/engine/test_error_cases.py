"""Bad-input suite: every folder in tests/cases/errors/ holds one mistake and the exact report expected.

Each case runs ``passerelle validate .`` in-process with the case folder as working directory, so the
paths in messages are relative and stable. The expected report is a syrupy snapshot stored as
``expected.txt`` beside the inputs; ``pytest --snapshot-update`` rewrites it (review the diff by eye).
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion
from syrupy.data import Snapshot, SnapshotCollection, SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

from engine.cli.main import cli
from engine.source import DEFAULT_LIMITS

CASES_DIR = Path(__file__).resolve().parent.parent / "cases" / "errors"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
LOCATION_LINE = re.compile(r"^\S+:\d+:\d+: error\[E\d{3}\]: ", re.MULTILINE)


def _huge_file(folder: Path) -> None:
    """Over the byte limit: written at test time so no multi-megabyte file is committed."""
    line = "# padding padding padding padding padding padding padding padding padding padding\n"
    body = "passerelle: 1\nkind: pack\n" + line * (DEFAULT_LIMITS.max_bytes // len(line) + 1)
    (folder / "pack.yaml").write_text(body, encoding="utf-8")


# Cases whose input is generated rather than committed.
GENERATED: dict[str, Callable[[Path], None]] = {"huge_file": _huge_file}


class CaseFolderSnapshot(SingleFileSnapshotExtension):
    """One text snapshot, ``expected.txt``, in the case folder itself (never any other file there)."""

    _write_mode = WriteMode.TEXT
    _file_extension = "txt"
    case_dir: Path = CASES_DIR

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: Any) -> str:
        return str(cls.case_dir / "expected.txt")

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.case_dir)

    def discover_snapshots(self, *, test_location: PyTestLocation,
                           ignore_extensions: list[str] | None = None) -> SnapshotCollections:
        # Only expected.txt: syrupy must never see (nor delete as "unused") the case's input files.
        discovered = SnapshotCollections()
        location = self.get_location(test_location=test_location, index=0)
        if Path(location).is_file():
            collection = SnapshotCollection(location=location)
            collection.add(Snapshot(name=self.get_snapshot_name(test_location=test_location)))
            discovered.add(collection)
        return discovered

    def _read_snapshot_collection(self, *, snapshot_location: str) -> SnapshotCollection:
        return SnapshotCollection(location=snapshot_location)

    @classmethod
    def write_snapshot(cls, *, snapshot_location: str, snapshots: list[Any]) -> None:
        # syrupy warns that expected.txt's path does not contain the test module's name; that is
        # the point of this extension, and pytest turns warnings into errors.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Can not relate snapshot location", category=UserWarning)
            super().write_snapshot(snapshot_location=snapshot_location, snapshots=snapshots)

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        """Never delete: a case folder's expected.txt goes away only with the folder."""


def _extension_for(case_dir: Path) -> type[CaseFolderSnapshot]:
    return type(f"Snapshot_{case_dir.name}", (CaseFolderSnapshot,), {"case_dir": case_dir})


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
