"""Every rule pack's cases (``rules/<pack>/cases/<case>/``) as pytest snapshots, plus ``passerelle test`` itself.

Each expected file of each case is one test whose snapshot is that file in the case folder, so
``pytest --snapshot-update`` and ``passerelle test --update`` rewrite the same files. Malformed case
folders must give a clear error naming the file, never a traceback.
"""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion

from engine.cli import packtest as packtest_cli
from engine.errors import PasserelleError
from engine.packtest import EXPECTED_FILES, discover_cases, load_case, run_case, run_cases
from engine.resources import rules_dir
from tests.snapshots import case_folder_snapshot

CASES = discover_cases()
PARAMS = [pytest.param(folder, name, id=f"{folder.parent.parent.name}/{folder.name}/{name}")
          for folder in CASES for name in EXPECTED_FILES.values()]


@cache
def _outputs(folder: Path) -> dict[str, str]:
    from engine.packtest import case_outputs

    return case_outputs(load_case(folder))


@pytest.mark.parametrize(("folder", "name"), PARAMS)
def test_pack_case(folder: Path, name: str, snapshot: SnapshotAssertion) -> None:
    outputs = _outputs(folder)
    if name not in outputs:
        assert not (folder / name).exists(), f"{name} exists but case.yaml does not list it in `expect`"
        return
    assert outputs[name] == snapshot(extension_class=case_folder_snapshot(folder, name))


def test_every_pack_ships_cases() -> None:
    packs = sorted(p.name for p in rules_dir().iterdir() if (p / "pack.yaml").is_file())
    with_cases = {folder.parent.parent.name for folder in CASES}
    assert set(packs) <= with_cases, f"packs without cases: {sorted(set(packs) - with_cases)}"
    assert sum(1 for f in CASES if f.parent.parent.name == "freshbooks") >= 6


# -- passerelle test ---------------------------------------------------------------------------------


def _copy_pack(tmp_path: Path, cases: tuple[str, ...] = ("update_changed_fields",)) -> Path:
    """A copy of the FreshBooks pack (under tmp/rules/) with only some of its cases."""
    source = rules_dir() / "freshbooks"
    pack = tmp_path / "rules" / "freshbooks"
    shutil.copytree(source, pack, ignore=shutil.ignore_patterns("cases"))
    for name in cases:
        shutil.copytree(source / "cases" / name, pack / "cases" / name)
    return pack


def test_cli_passes_on_the_shipped_pack() -> None:
    result = CliRunner().invoke(packtest_cli.test, ["freshbooks"])
    assert result.exit_code == 0, result.output
    assert "ok     freshbooks/demo_first_sync" in result.output
    assert "0 failed" in result.output


def test_cli_reports_a_changed_plan_with_a_diff_then_update_accepts_it(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    records = pack / "cases" / "update_changed_fields" / "records" / "invoices.json"
    records.write_text(records.read_text(encoding="utf-8").replace('"2024-04-18"', '"2024-04-25"'), encoding="utf-8")
    result = CliRunner().invoke(packtest_cli.test, [str(pack)])
    assert result.exit_code == 1
    assert "FAILED freshbooks/update_changed_fields" in result.output
    assert '-    DueDate: "2024-04-03" -> "2024-04-18"' in result.output
    assert '+    DueDate: "2024-04-03" -> "2024-04-25"' in result.output
    assert "1 case(s): 0 passed, 1 failed" in result.output

    updated = CliRunner().invoke(packtest_cli.test, [str(pack), "--update"])
    assert updated.exit_code == 0, updated.output
    assert "updated freshbooks/update_changed_fields (expected.txt, expected.json)" in updated.output
    assert CliRunner().invoke(packtest_cli.test, [str(pack)]).exit_code == 0


def test_cli_fails_when_a_pack_has_no_cases(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path, cases=())
    result = CliRunner().invoke(packtest_cli.test, [str(pack)])
    assert result.exit_code == 1
    assert "no cases found" in result.output


def test_cli_unknown_pack_is_a_clear_error() -> None:
    result = CliRunner().invoke(packtest_cli.test, ["no-such-pack"])
    assert result.exit_code == 1
    assert "error[E140]: pack 'no-such-pack' not found" in result.output
    assert "Traceback" not in result.output


def test_a_new_case_without_expectation_fails_until_updated(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    case = pack / "cases" / "update_changed_fields"
    for name in ("expected.txt", "expected.json"):
        (case / name).unlink()
    result = run_case(case)
    assert not result.ok
    assert "expected.txt does not exist yet: run with --update" in result.diff()
    assert run_case(case, update=True).ok
    assert (case / "expected.txt").read_text(encoding="utf-8").startswith("Plan for profile demo")


def _break(case: Path, name: str, text: str | None) -> None:
    path = case / name
    if text is None:
        path.unlink()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


MALFORMED = [
    ("case.yaml", None, "error[E141]: case folder has no case.yaml", "rules/freshbooks/cases/update_changed_fields"),
    ("reference.json", None, "error[E141]: missing: the QBO company's reference data", "reference.json"),
    ("reference.json", '{"Account": [', "error[E142]: invalid JSON", "reference.json:1:14"),
    ("reference.json", '{"Account": [{"Name": "x"}]}', "Account[0] has no Id", "reference.json"),
    ("records/invoices.json", '{"invoiceid": 1}', "expected a JSON list of records", "records/invoices.json"),
    ("records/invoice.json", "[]", "no flow of the pack reads this file", "records/invoice.json"),
    ("ledger.json", '[{"flow": "invoice", "key": "1", "entity": "Invoice", "id": "1"}]', "the pack has no flow 'invoice'",
     "ledger.json"),
    ("ledger.json", '[{"flow": "invoices", "key": "1", "id": "1"}]', "entry 0: missing entity", "ledger.json"),
    ("case.yaml", "profile: freshbooks/nobody\ntoday: '2024-06-01'\n", "error[E144]: profile 'freshbooks/nobody' not found",
     "case.yaml:1:10"),
    ("case.yaml", "profile: freshbooks/demo\n", "`today` is required", "case.yaml"),
    ("case.yaml", "profile: freshbooks/demo\ntoday: '2024-06-01'\nexpected: [text]\n", "unknown key 'expected'",
     "case.yaml:3:1"),
    ("case.yaml", "profile: freshbooks/demo\ntoday: '2024-06-01'\n", "expected.json is not produced by this case",
     "case.yaml"),
]


@pytest.mark.parametrize(("name", "text", "message", "where"), MALFORMED,
                         ids=[f"{m[0]}:{m[2][:30]}" for m in MALFORMED])
def test_malformed_case_is_a_clear_error_naming_the_file(tmp_path: Path, name: str, text: str | None, message: str,
                                                         where: str) -> None:
    pack = _copy_pack(tmp_path)
    case = pack / "cases" / "update_changed_fields"
    _break(case, name, text)
    result = CliRunner().invoke(packtest_cli.test, [str(pack)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "FAILED freshbooks/update_changed_fields: the case cannot run" in result.output
    assert message in result.output, result.output
    assert where in result.output, result.output


def test_load_case_raises_passerelle_error(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    case = pack / "cases" / "update_changed_fields"
    _break(case, "reference.json", "[]")
    with pytest.raises(PasserelleError, match="expected a JSON object"):
        load_case(case)


def test_cases_are_deterministic_and_offline() -> None:
    first = {r.id: [f.actual for f in r.files] for r in run_cases("freshbooks")}
    again = {r.id: [f.actual for f in r.files] for r in run_cases("freshbooks")}
    assert first == again
    plan = json.loads(_outputs(rules_dir() / "freshbooks" / "cases" / "demo_first_sync")["expected.json"])
    assert plan["created_at"] == "2024-06-01T00:00:00+00:00"
    assert str(rules_dir()) not in json.dumps(first)
