"""Snapshots stored as one plain file inside a case folder, shared by every case-folder suite.

Case folders keep their inputs and their expected output side by side (``expected.txt`` for the
bad-input suite; ``expected.txt`` and ``expected.json`` for rule-pack cases), so a reviewer reads a
case in one place and ``pytest --snapshot-update`` rewrites exactly the file that
``passerelle test --update`` writes.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from syrupy.data import Snapshot, SnapshotCollection, SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

__all__ = ["CaseFolderSnapshot", "case_folder_snapshot"]


class CaseFolderSnapshot(SingleFileSnapshotExtension):
    """One text snapshot, ``case_dir / filename``, in the case folder itself (never any other file there).

    A test makes one assertion with it (index 0): the snapshot's name is the test's name, which is
    what ``discover_snapshots`` announces, so syrupy never reports the file as unused.
    """

    _write_mode = WriteMode.TEXT
    _file_extension = "txt"
    case_dir: Path = Path()
    filename: str = "expected.txt"

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: Any) -> str:
        return str(cls.case_dir / cls.filename)

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.case_dir)

    def discover_snapshots(self, *, test_location: PyTestLocation,
                           ignore_extensions: list[str] | None = None) -> SnapshotCollections:
        # Only our file: syrupy must never see (nor delete as "unused") the case's input files.
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
        # syrupy warns that the file's path does not contain the test module's name; that is
        # the point of this extension, and pytest turns warnings into errors.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Can not relate snapshot location", category=UserWarning)
            super().write_snapshot(snapshot_location=snapshot_location, snapshots=snapshots)

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        """Never delete: a case folder's expected files go away only with the folder."""


def case_folder_snapshot(case_dir: Path, filename: str = "expected.txt") -> type[CaseFolderSnapshot]:
    """The extension class for one file of one case folder (pass it as ``snapshot(extension_class=...)``)."""
    suffix = filename.rpartition(".")[2] or "txt"
    attrs = {"case_dir": case_dir, "filename": filename, "_file_extension": suffix}
    return type(f"Snapshot_{case_dir.name}_{suffix}", (CaseFolderSnapshot,), attrs)
