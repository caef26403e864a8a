"""The CLI contract: exit codes, compiler-style errors, provenance and no tracebacks."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_validate_rules_is_clean() -> None:
    code, out = run("validate", str(ROOT / "rules"))
    assert code == 0, out
    assert "pack(s)" in out and "Traceback" not in out


def test_validate_reports_every_error_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "pack.yaml"
    bad.write_text("passerelle: 1\nkind: pack\npack: {name: x, version: 1.0.0}\nsetings: {}\nflows:\n  Bad: {}\n",
                   encoding="utf-8")
    code, out = run("validate", str(bad))
    assert code == 1
    assert f"{bad}:4:1: error[E200]: unknown key 'setings'" in out
    assert "did you mean 'settings'?" in out
    assert f"{bad}:6:3: error[E204]: key 'Bad'" in out
    assert "Traceback" not in out


def test_config_explain_shows_where_each_value_comes_from() -> None:
    code, out = run("config", "explain", str(ROOT / "rules/freshbooks/customers/boulangerie-martin.yaml"))
    assert code == 0, out
    assert "document_type = SalesReceipt    [profile] " in out
    assert "boulangerie-martin.yaml:" in out
    assert "due_days = 30    [pack default] " in out and "settings.yaml:" in out
    assert "'TVA 2.1' -> TVA 2,1 %    [profile add]" in out
    assert "api_token: from $MARTIN_FRESHBOOKS_TOKEN" in out


def test_secret_values_never_printed(monkeypatch: object) -> None:
    import os

    os.environ["MARTIN_FRESHBOOKS_TOKEN"] = "s3cr3t-value-123"
    try:
        code, out = run("config", "explain", "freshbooks/boulangerie-martin")
    finally:
        del os.environ["MARTIN_FRESHBOOKS_TOKEN"]
    assert code == 0, out
    assert "s3cr3t-value-123" not in out


def test_graph_prints_mermaid(repair_shop: Path) -> None:
    code, out = run("graph", str(repair_shop))
    assert code == 0, out
    assert out.startswith("%% machine invoice") and "stateDiagram-v2" in out and "done --> paid: settle" in out


def test_explain_maps_one_record_with_trace(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"invoiceid": 1, "invoice_number": "77", "v3_status": "sent", "create_date": "2024-05-02",'
                      ' "fname": "Ana",'
                      ' "lines": []}', encoding="utf-8")
    code, out = run("explain", str(ROOT / "rules/freshbooks/customers/demo.yaml"), str(record))
    assert code == 0, out
    assert '"DocNumber": "FB77"' in out and '"DueDate": "2024-06-01"' in out
    assert "trace:" in out and "invoices.yaml:" in out


def test_explain_bad_json_is_a_located_error(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"a": 1,,}', encoding="utf-8")
    code, out = run("explain", str(ROOT / "rules/freshbooks/customers/demo.yaml"), str(record))
    assert code == 1 and f"{record}:1:" in out and "Traceback" not in out


def test_every_command_reports_an_unknown_profile_without_a_traceback(tmp_path: Path, monkeypatch: object) -> None:
    import os

    os.environ["PASSERELLE_STATE"] = str(tmp_path / "state.db")
    try:
        for args in (("plan", "nosuch/x"), ("apply", "nosuch/x", "--yes"), ("sync", "nosuch/x"), ("check", "nosuch/x"),
                     ("serve", "--profile", "nosuch/x"), ("config", "explain", "nosuch/x"), ("suspend", "nosuch/x",
                                                                                               "--until", "2999-01-01")):
            code, out = run(*args)
            assert code == 1 and "Traceback" not in out and "profile 'nosuch/x' not found" in out, (args, out)
    finally:
        del os.environ["PASSERELLE_STATE"]
