"""The run commands end to end: a sandbox served over real HTTP, configured the way a user would
(PASSERELLE_QBO_BASE_URL, _REALM, _ACCESS_TOKEN, PASSERELLE_STATE)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from connectors.sandbox import DEFAULT_REALM_IDS, Sandbox
from engine.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
DEMO = str(ROOT / "rules/freshbooks/customers/demo.yaml")
REALM = DEFAULT_REALM_IDS["fr"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def invoices(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(sandbox.query(REALM, "SELECT * FROM Invoice MAXRESULTS 1000").get("Invoice", []))


def test_E1_plan_json_matches_schema_and_detailed_exitcode(served: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, _ = run("plan", DEMO, "--json", "--out", str(out), "--detailed-exitcode")
    assert code == 2
    data = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "schemas/plan.schema.json").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(data)) == []
    assert data["summary"]["Invoice"] == {"create": 2, "skip": 2}
    assert invoices(served) == []  # a plan writes nothing


def test_apply_then_nothing_to_do(served: Sandbox) -> None:
    code, text = run("apply", DEMO, "--yes")
    assert code == 0, text
    assert "Applied (run 1): 7 create, 9 created references" in text
    assert sorted(i["DocNumber"] for i in invoices(served)) == ["FB1201", "FB1202"]
    code, text = run("plan", DEMO, "--detailed-exitcode")
    assert code == 0 and "No changes to write." in text


def test_apply_needs_confirmation_when_not_interactive(served: Sandbox) -> None:
    code, text = run("apply", DEMO)
    assert code == 1 and "refusing to apply without confirmation" in text and "--yes" in text
    assert invoices(served) == []


def test_saved_plan_applies_and_a_stale_one_is_refused(served: Sandbox, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    run("plan", DEMO, "--out", str(saved))
    served.write(REALM, "Account", {"Name": "Nouveau compte", "AccountType": "Bank", "AcctNum": "512900"})
    code, text = run("apply", str(saved), "--yes", "--profile", DEMO)
    assert code == 1 and "the saved plan is stale" in text and "reference data" in text
    run("plan", DEMO, "--out", str(saved))
    code, text = run("apply", str(saved), "--yes", "--profile", DEMO)
    assert code == 0, text
    assert len(invoices(served)) == 2


def test_O3_sync_one_record_manually(served: Sandbox) -> None:
    code, text = run("sync", DEMO, "--record", "1202")
    assert code == 0, text
    assert [i["DocNumber"] for i in invoices(served)] == ["FB1202"]


def test_F21_sync_every_interval_runs_again(served: Sandbox) -> None:
    code, text = run("sync", DEMO, "--every", "1s", "--times", "2")
    assert code == 0, text
    assert text.count("Plan for profile demo") == 2
    assert "next run in 1s" in text and "No changes to write." in text  # the second run finds nothing to do


def test_G9_suspend_until_date_skips_then_past_date_resumes(served: Sandbox) -> None:
    code, text = run("suspend", DEMO, "--until", "2999-01-01")
    assert code == 0 and "suspended until 2999-01-01" in text
    code, text = run("plan", DEMO)
    assert "automatic sync suspended until 2999-01-01" in text and "to create" not in text
    code, text = run("suspend", DEMO, "--until", "2000-01-01")
    assert "is past, automatic syncs are running" in text
    code, text = run("plan", DEMO)
    assert "Invoice: 2 to create" in text


def test_G10_G11_G12_error_history_resync_and_resolved(served: Sandbox, tmp_path: Path) -> None:
    profile = tmp_path / "long.yaml"
    body = (ROOT / "rules/freshbooks/customers/demo.yaml").read_text(encoding="utf-8")
    body = body.replace("pack: freshbooks", f"pack: {ROOT / 'rules/freshbooks'}")
    body = body.replace("../data/", f"{ROOT}/rules/freshbooks/data/")
    broken = body + "tables:\n  expense_categories:\n    replace: {Office Supplies: Compte inexistant}\n"
    profile.write_text(broken, encoding="utf-8")
    code, text = run("apply", str(profile), "--yes")
    assert code == 1
    code, listing = run("errors", "list")
    assert "[open]" in listing and "expenses 9001" in listing and "Compte inexistant" in listing and "fix:" in listing
    error_id = listing.split("#", 1)[1].split(" ", 1)[0]
    profile.write_text(body, encoding="utf-8")  # the fix: the category goes to an account that exists
    code, text = run("errors", "resync", error_id, "--profile", str(profile))
    assert code == 0, text
    code, listing = run("errors", "list")
    assert f"#{error_id} [resolved]" in listing
    code, text = run("errors", "resolve", "999")
    assert code == 1 and "no error #999" in text


def test_demo_runs_a_complete_sync() -> None:
    code, text = run("demo")
    assert code == 0, text
    assert "Invoice FB1201: total 372.00, balance 0.00" in text
    assert "planning again: nothing left to do" in text


def test_plan_creates_no_state_file(served: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "fresh" / "state.db"
    monkeypatch.setenv("PASSERELLE_STATE", str(state))
    code, text = run("plan", DEMO)
    assert code == 0 and "First sync: 7 document(s)" in text
    assert not state.exists() and not state.parent.exists()


def test_plan_progress_lines_off_a_terminal_and_apply_plans_once(served: Sandbox,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.cli.progress
    import engine.cli.session

    monkeypatch.setattr(engine.cli.progress, "PLAIN_EVERY", 0.0)
    code, text = run("plan", DEMO)
    assert code == 0 and "planning: " in text and "records read (invoices)" in text
    plans: list[object] = []
    real = engine.cli.session.make_plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        plans.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.cli.session, "make_plan", counted)
    code, text = run("apply", DEMO, "--yes")
    assert code == 0, text
    assert len(plans) == 1  # the plan shown is the plan applied


def _profile_copy(tmp_path: Path, extra: str = "", prefix: str = "FB") -> Path:
    """The demo profile outside the pack (its data read from the pack), with ``extra`` YAML appended."""
    profile = tmp_path / "copy.yaml"
    body = (ROOT / "rules/freshbooks/customers/demo.yaml").read_text(encoding="utf-8")
    body = body.replace("pack: freshbooks", f"pack: {ROOT / 'rules/freshbooks'}")
    body = body.replace("../data/", f"{ROOT}/rules/freshbooks/data/").replace("invoice_prefix: FB",
                                                                               f"invoice_prefix: {prefix}")
    profile.write_text(body + extra, encoding="utf-8")
    return profile


BROKEN_TABLE = "tables:\n  expense_categories:\n    replace: {Office Supplies: Compte inexistant}\n"


def test_exit_codes_a_record_that_cannot_be_mapped_is_1_for_plan_apply_and_sync(served: Sandbox,
                                                                                  tmp_path: Path) -> None:
    profile = str(_profile_copy(tmp_path, BROKEN_TABLE))
    code, text = run("plan", profile, "--detailed-exitcode")
    assert code == 1, text  # changes are pending too, but a record cannot be mapped: that needs a person
    assert "could not be mapped" in text
    code, text = run("apply", profile, "--yes")
    assert code == 1, text
    code, text = run("sync", profile)  # nothing left to write, the record still cannot be mapped
    assert code == 1, text
    code, text = run("plan", profile)
    assert code == 1, text
    code, text = run("sync", str(_profile_copy(tmp_path)))  # fixed: the record is written, all done
    assert code == 0, text
    code, text = run("plan", str(_profile_copy(tmp_path)), "--detailed-exitcode")
    assert code == 0, text


def test_exit_codes_a_conflict_needs_a_decision(served: Sandbox, tmp_path: Path) -> None:
    code, text = run("apply", DEMO, "--yes")
    assert code == 0, text
    first = next(i for i in invoices(served) if i["DocNumber"] == "FB1201")
    served.write(REALM, "Invoice", {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True,
                                    "DocNumber": "BY-HAND"})
    renamed = str(_profile_copy(tmp_path, prefix="FR"))
    code, text = run("plan", renamed, "--detailed-exitcode")
    assert "! " in text and "conflict" in text
    assert code == 1, text
    code, text = run("sync", renamed)
    assert code == 1, text


def test_plan_and_sync_of_an_unknown_record_key_is_an_error_naming_it(served: Sandbox) -> None:
    for command in ("plan", "sync"):
        code, text = run(command, DEMO, "--record", "12O2")
        assert code == 1, text
        assert "error[E805]" in text and "'12O2'" in text and "did you mean '1202'?" in text
    assert invoices(served) == []
    code, text = run("plan", DEMO, "--record", "1202")  # a known key still plans that record alone
    assert code == 0 and "FB1202" in text and "FB1201" not in text, text


def test_an_unknown_profile_gets_a_did_you_mean_and_the_list(served: Sandbox) -> None:
    code, text = run("plan", "freshbooks/dmo")
    assert code == 1 and "'freshbooks/dmo'" in text
    assert "did you mean 'freshbooks/demo'?" in text and "freshbooks/" in text.split("did you mean", 1)[1]
    code, text = run("plan", "freshbook/demo")
    assert code == 1 and "did you mean 'freshbooks/demo'?" in text, text
    code, text = run("plan", "nothing-like-it")
    assert code == 1 and "profiles:" in text and "pleo/demo" in text, text


def test_a_saved_plan_is_applied_once(served: Sandbox, tmp_path: Path) -> None:
    assert run("apply", DEMO, "--yes")[0] == 0
    renamed = str(_profile_copy(tmp_path, prefix="FR"))  # updates only: no reference data changes
    saved = tmp_path / "plan.json"
    code, text = run("plan", renamed, "--out", str(saved), "--detailed-exitcode")
    assert code == 2 and "~ " in text, text
    code, text = run("apply", str(saved), "--yes", "--profile", renamed)
    assert code == 0, text
    code, text = run("apply", str(saved), "--yes", "--profile", renamed)
    assert code == 1 and "the saved plan is stale" in text and "applied already (run 2)" in text, text
    assert "Applied (run" not in text
    assert sorted(i["DocNumber"] for i in invoices(served)) == ["FR1201", "FR1202"]


def test_a_conflict_joins_the_error_history_and_the_apply_summary(served: Sandbox, tmp_path: Path) -> None:
    assert run("apply", DEMO, "--yes")[0] == 0
    first = next(i for i in invoices(served) if i["DocNumber"] == "FB1201")
    served.write(REALM, "Invoice", {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True,
                                    "DocNumber": "BY-HAND"})
    code, text = run("sync", str(_profile_copy(tmp_path, prefix="FR")))
    applied = next(line for line in text.splitlines() if line.startswith("Applied (run"))
    assert code == 1 and "1 conflict" in applied and "1 update" in applied, text
    code, listing = run("errors", "list")
    assert "[open]" in listing and "invoices 1201" in listing and "changed by hand" in listing, listing
