"""What the CLI prints for people and for programs: validate's formats, errors list's filters and JSON, colour."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.cli.output import colour
from engine.runtime.history import record_error, set_error_status
from engine.store import open_store
from tests.engine.test_cli import ROOT, run

CASE = ROOT / "tests" / "cases" / "errors" / "unknown_setting_in_connection_template"


def test_validate_as_json_and_as_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASE)
    code, out = run("validate", ".", "--format", "json")
    assert code == 1
    found = json.loads(out[out.index("{"):])
    assert found["ok"] is False and [e["code"] for e in found["errors"]] == ["E401", "E401"]
    first = found["errors"][0]
    assert (first["file"], first["line"], first["col"]) == ("pack.yaml", 12, 3)
    assert first["hint"] == "did you mean 'api_host'?" and first["path"] == "$.connections.product.base_url"
    code, out = run("validate", ".", "--format", "github")
    lines = [line for line in out.splitlines() if line.startswith("::")]
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith("::error file=pack.yaml,line=12,col=3,title=E401::unknown setting 'api_hots'")
    assert "%0Ahint: did you mean 'api_host'?" in lines[0] and "\n" not in lines[0]
    code, out = run("validate", str(ROOT / "rules" / "libeo"), "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_errors_list_shows_time_and_run_filters_by_status_and_speaks_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.db"
    monkeypatch.setenv("PASSERELLE_STATE", str(state))
    store = open_store(str(state))
    with store.engine.begin() as conn:
        record_error(conn, "freshbooks/demo", "invoices", "77", run_id=12, fault_class="data", code="E601",
                     message="table 'sales_taxes' has no row for 'TVA'", hint="add a row")
        record_error(conn, "freshbooks/demo", "invoices", "78", run_id=12, fault_class="data", code=None,
                     message="rejected", hint=None)
    set_error_status(store, 2, "resolved")
    store.dispose()
    code, out = run("errors", "list")
    line = next(x for x in out.splitlines() if x.startswith("#1 "))
    assert code == 0 and " run 12 " in line and "+00:00" in line and "[open]" in line
    code, out = run("errors", "list", "--status", "resolved")
    assert code == 0 and "#2 [resolved]" in out and "#1 " not in out
    code, out = run("errors", "list", "--json", "--status", "open")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [(r["id"], r["run_id"], r["status"], r["code"]) for r in rows] == [(1, 12, "open", "E601")]
    assert rows[0]["created_at"].endswith("+00:00") and rows[0]["hint"] == "add a row"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_color_is_honoured_and_force_color_colours_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert colour(_Tty()) is True and colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour(_Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert colour(io.StringIO()) is True
