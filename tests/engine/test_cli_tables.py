"""`passerelle table set|remove`: a profile's change of a pack table, written as the console's table form writes it
and validated like `validate` before the file is replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.pipeline import run_pipeline
from tests.engine.test_cli import ROOT, run


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "rules" / "pleo", tmp_path / "rules" / "pleo")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PASSERELLE_SECRET_KEY", raising=False)
    monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
    return tmp_path / "rules" / "pleo" / "customers" / "atelier-lumiere.yaml"


def _rows(path: Path, table: str) -> dict[object, object]:
    return {k: r.value for k, r in run_pipeline(path).resolved.tables[table].rows.items()}


def test_set_adds_or_replaces_and_remove_drops_a_pack_row(profile: Path) -> None:
    code, out = run("table", "set", "pleo/atelier-lumiere", "category_accounts", "Voyages", "625100")
    assert code == 0, out
    code, out = run("table", "set", "pleo/atelier-lumiere", "category_accounts", "Frais bancaires", "627100")
    assert code == 0, out
    code, out = run("table", "remove", "pleo/atelier-lumiere", "category_accounts", "Fournitures de bureau")
    assert code == 0, out
    rows = _rows(profile, "category_accounts")
    assert rows["Voyages"] == "625100" and rows["Frais bancaires"] == "627100"
    assert "Fournitures de bureau" not in rows and rows["Logiciels et abonnements"] == "651000"  # kept
    text = profile.read_text(encoding="utf-8")
    assert '    replace:\n      "Frais bancaires": "627100"' in text and '    remove: ["Fournitures de bureau"]' in text
    assert '      "Atelier": "Conseil"' in text  # the other table's change is kept


def test_unknown_table_and_row_are_named_with_a_did_you_mean(profile: Path) -> None:
    before = profile.read_text(encoding="utf-8")
    code, out = run("table", "set", "pleo/atelier-lumiere", "category_acounts", "X", "1")
    assert code == 1 and "unknown table 'category_acounts'" in out and "did you mean 'category_accounts'" in out
    code, out = run("table", "remove", "pleo/atelier-lumiere", "category_accounts", "Fournitures de burea")
    assert code == 1 and "has no row 'Fournitures de burea'" in out and "Fournitures de bureau" in out
    assert profile.read_text(encoding="utf-8") == before and "Traceback" not in out
