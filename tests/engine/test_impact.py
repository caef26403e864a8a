"""Change impact (issue 18): `passerelle impact` compiles each profile at a base and now and plans both
against the pack's cases; an edit of a shared table row shows up for exactly the profiles that use it,
an unchanged pack reports nothing and exits 0; `passerelle test --base` names the cases the edit changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.impact import impact
from engine.cli.packtest import test as cases_command
from engine.impact import run_impact

ROOT = Path(__file__).resolve().parents[2]
ROW = "      Office Supplies: Fournitures administratives\n"
EDITED = "      Office Supplies: Frais postaux et télécommunications\n"


def rules_copy(where: Path) -> Path:
    """The FreshBooks pack with two more customers: one that keeps the pack's Office Supplies row, one that
    replaces it with its own."""
    rules = where / "rules"
    shutil.copytree(ROOT / "rules/freshbooks", rules / "freshbooks")
    customers = rules / "freshbooks/customers"
    demo = (customers / "demo.yaml").read_text(encoding="utf-8")
    (customers / "keeps-row.yaml").write_text(demo.replace("name: demo", "name: keeps-row"), encoding="utf-8")
    own = demo.replace("name: demo", "name: own-row")
    assert "\ntables:" not in own
    own += textwrap.dedent("""\
        tables:
          expense_categories:
            replace: {Office Supplies: Honoraires}
        """)
    (customers / "own-row.yaml").write_text(own, encoding="utf-8")
    return rules


def edit_row(rules: Path) -> None:
    tables = rules / "freshbooks/tables.yaml"
    text = tables.read_text(encoding="utf-8")
    assert ROW in text
    tables.write_text(text.replace(ROW, EDITED), encoding="utf-8")


def invoke(command: object, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, list(args))  # type: ignore[arg-type]
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """(base, head): two copies of the same rules folder."""
    base = rules_copy(tmp_path / "base")
    head = rules_copy(tmp_path / "head")
    return base, head


def test_an_edit_of_a_shared_row_shows_up_for_exactly_the_profiles_that_use_it(trees: tuple[Path, Path]) -> None:
    base, head = trees
    edit_row(head)
    profiles = sorted((head / "freshbooks/customers").glob("*.yaml"))
    result = run_impact(profiles, head, base, "base")
    status = {p.profile: p.status for p in result.profiles}
    assert status == {"freshbooks/atelier-dupont": "changed", "freshbooks/boulangerie-martin": "changed",
                      "freshbooks/demo": "changed", "freshbooks/keeps-row": "changed",
                      "freshbooks/own-row": "unchanged"}
    assert result.exit_code == 2
    demo = next(p for p in result.profiles if p.profile == "freshbooks/demo")
    assert [c.text for c in demo.config] == [
        'row expense_categories[\'Office Supplies\']: "Fournitures administratives" -> '
        '"Frais postaux et télécommunications"']
    bill = next(d for d in demo.documents if d.inputs == "demo_first_sync" and d.key == "9001")
    assert (bill.entity, bill.before, bill.after) == ("Bill", "create", "create")
    fields = {f.field: (f.before, f.after) for f in bill.fields}
    assert fields["Line[0].AccountBasedExpenseLineDetail.AccountRef.value"] == ("10", "12")
    keeps = next(p for p in result.profiles if p.profile == "freshbooks/keeps-row")
    assert [(d.inputs, d.key) for d in keeps.documents] == [(d.inputs, d.key) for d in demo.documents]


def test_an_unchanged_pack_reports_nothing_and_exits_0(trees: tuple[Path, Path]) -> None:
    base, head = trees
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "--all")
    assert code == 0, text
    assert "0 of 5 profile(s) change" in text and "No changes." in text
    assert "~ " not in text


def test_cli_text_json_and_exit_codes(trees: tuple[Path, Path]) -> None:
    base, head = trees
    edit_row(head)
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/demo", "freshbooks/own-row")
    assert code == 2, text
    assert "~ freshbooks/demo: 2 document(s) planned differently in 10 input(s)" in text
    assert "  freshbooks/own-row: no change" in text
    assert ("          Line[0].AccountBasedExpenseLineDetail.AccountRef.name: \"Fournitures administratives\" -> "
            "\"Frais postaux et télécommunications\"") in text
    code, out = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks", "--json")
    data = json.loads(out)
    assert code == 2 and data["exit_code"] == 2
    assert {p["profile"]: p["status"] for p in data["profiles"]}["freshbooks/own-row"] == "unchanged"
    code, _ = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/demo", "--exit-zero")
    assert code == 0
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/nobody")
    assert code == 1 and "error[E841]" in text


def test_a_profile_that_no_longer_compiles_exits_1(trees: tuple[Path, Path]) -> None:
    base, head = trees
    demo = head / "freshbooks/customers/demo.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace("pack: freshbooks", "pack: freshbooks\nbogus: 1"),
                    encoding="utf-8")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/demo")
    assert code == 1, text
    assert "x freshbooks/demo: cannot be compiled" in text and "demo.yaml:" in text


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_base_is_a_git_revision(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path / "repo")
    repo = rules.parent
    _git("init", "-q", cwd=repo)
    _git("add", "rules", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "packs", cwd=repo)
    code, text = invoke(impact, "--rules", str(rules), "freshbooks/demo", "freshbooks/own-row")  # base: HEAD
    assert code == 0, text
    edit_row(rules)
    code, text = invoke(impact, "--rules", str(rules), "--base", "HEAD", "freshbooks/demo", "freshbooks/own-row")
    assert code == 2, text
    assert "Impact of the edit since HEAD: 1 of 2 profile(s) change" in text
    code, text = invoke(impact, "--rules", str(rules), "--base", "no-such-branch", "freshbooks/demo")
    assert code == 1 and "error[E840]" in text


def test_test_base_names_the_cases_whose_plans_the_edit_changes(trees: tuple[Path, Path]) -> None:
    base, head = trees
    edit_row(head)
    code, text = invoke(cases_command, str(head / "freshbooks"), "--base", str(base))
    assert code == 1, text  # the expected plans are not updated yet
    # the two cases with an Office Supplies expense (their plans show the Bill's account line)
    failed = sorted(line.split()[1] for line in text.splitlines() if line.startswith("FAILED "))
    assert failed == ["freshbooks/demo_first_sync", "freshbooks/start_date_and_status_filters"], text
    assert text.count("changes this case's plan: the diff above is all the edit's") == 2, text
    assert "10 case(s): 8 passed, 2 failed, 2 changed by the edit since" in text
    code, text = invoke(cases_command, str(head / "freshbooks"), "--base", str(base), "--update")
    assert "2 changed by the edit since" in text and "2 updated" in text
    code, text = invoke(cases_command, str(head / "freshbooks"), "--base", str(base))
    assert code == 0, text
    assert "changes this case's plan (base -> now):" in text  # now the expected files hold the edit's plan


def test_new_and_removed_profiles_are_reported(trees: tuple[Path, Path]) -> None:
    base, head = trees
    customers = head / "freshbooks/customers"
    (customers / "own-row.yaml").unlink()
    demo = (customers / "demo.yaml").read_text(encoding="utf-8")
    (customers / "newcomer.yaml").write_text(demo.replace("name: demo", "name: newcomer"), encoding="utf-8")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "--all")
    assert code == 2, text
    assert "+ freshbooks/newcomer: new profile (not at the base)" in text
    assert "- freshbooks/own-row: profile removed (at the base, gone now)" in text
    assert "2 of 6 profile(s) change" in text
    code, out = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks", "--json")
    status = {p["profile"]: p["status"] for p in json.loads(out)["profiles"]}
    assert code == 2
    assert status == {"freshbooks/atelier-dupont": "unchanged", "freshbooks/boulangerie-martin": "unchanged",
                      "freshbooks/demo": "unchanged", "freshbooks/keeps-row": "unchanged",
                      "freshbooks/newcomer": "added", "freshbooks/own-row": "removed"}
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/own-row")  # named, gone now
    assert code == 2 and "- freshbooks/own-row: profile removed" in text
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/keeps-row")
    assert code == 0 and "profile removed" not in text


def test_a_new_profile_that_does_not_compile_is_an_error(trees: tuple[Path, Path]) -> None:
    base, head = trees
    bad = head / "freshbooks/customers/broken.yaml"
    bad.write_text((head / "freshbooks/customers/demo.yaml").read_text(encoding="utf-8")
                   .replace("name: demo", "name: broken").replace("invoice_prefix: FB", "invoice_prefixe: FB"),
                   encoding="utf-8")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/broken")
    assert code == 1, text
    assert "x freshbooks/broken: cannot be compiled" in text and "broken.yaml:" in text


def test_a_row_edit_finds_what_planning_every_case_on_both_sides_finds(trees: tuple[Path, Path]) -> None:
    """Only the cases whose base plan looks an edited row up are planned again: the documents found must be
    those of planning every case with both profiles (rows of a YAML table and of a CSV table edited)."""
    from engine.impact import PackLoader, diff_plans, pack_cases
    from engine.packtest import plan_case, with_profile
    from engine.pipeline import run_pipeline

    base, head = trees
    edit_row(head)
    csv = head / "freshbooks/tables/sales_taxes.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("VAT 10,TVA 10 %", "VAT 10,TVA 5,5 %"), encoding="utf-8")
    profiles = sorted((head / "freshbooks/customers").glob("*.yaml"))
    result = {p.profile: p for p in run_impact(profiles, head, base, "base").profiles}
    cases, errors = pack_cases(head / "freshbooks", PackLoader())
    assert not errors
    for name in ("demo", "own-row", "atelier-dupont"):
        before = run_pipeline(base / f"freshbooks/customers/{name}.yaml")
        after = run_pipeline(head / f"freshbooks/customers/{name}.yaml")
        expected = [d for case in cases for d in diff_plans(plan_case(with_profile(case, before, base.parent)),
                                                            plan_case(with_profile(case, after)), case.name)]
        found = result[f"freshbooks/{name}"]
        assert found.status == "changed" and found.documents == tuple(expected), name
        assert {d.inputs for d in expected} >= {"demo_first_sync"}  # the oracle sees the edit too
    assert {c.text.split(":")[0] for c in result["freshbooks/own-row"].config} == {"row sales_taxes['VAT 10']"}


def test_comments_and_moved_lines_change_nothing_but_a_rule_edit_does(trees: tuple[Path, Path]) -> None:
    base, head = trees
    tables = head / "freshbooks/tables.yaml"
    tables.write_text("# reviewed\n" + tables.read_text(encoding="utf-8").replace(ROW, ROW.rstrip("\n") + "  # ok\n"),
                      encoding="utf-8")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "--all")
    assert code == 0 and "0 of 5 profile(s) change" in text, text
    flows = head / "freshbooks/flows/expenses.yaml"
    source = flows.read_text(encoding="utf-8")
    assert "Description: record.notes or record.category_name" in source
    flows.write_text(source.replace("Description: record.notes or record.category_name",
                                    "Description: record.category_name"), encoding="utf-8")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/own-row")
    assert code == 2, text
    assert "flow expenses changed" in text
    assert "Line[0].Description: \"Printer paper\" -> \"Office Supplies\"" in text
