"""Every pack's demo profile, as a new user meets it: `passerelle connect`, `passerelle check --fix`, then
`passerelle plan --detailed-exitcode` against a fresh sandbox (served over HTTP) exits 2, changes to make.
The Libeo demo shows its main direction (L1): the preset's QBO bills reach the demo's file-based Libeo side.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import RealmSpec, SandboxConfig, create_app, sandbox_of, serve
from engine.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
PACKS = ("freshbooks", "libeo", "pleo", "orderry", "ogustine")


@pytest.fixture
def fresh_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh sandbox (`passerelle sandbox --preset fr-demo`: the FR company and three open bills) on
    loopback; the state store and the demo's written files under tmp_path."""
    forget_limiters()
    app = create_app(SandboxConfig(realms=(RealmSpec("9341450000000001", "fr-demo"),)))
    sandbox = sandbox_of(app)
    monkeypatch.chdir(tmp_path)
    with serve(app) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
        monkeypatch.setenv("PASSERELLE_SECRET_KEY", Fernet.generate_key().decode())
        monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
        monkeypatch.delenv("PASSERELLE_QBO_REALM", raising=False)
        yield sandbox
    sandbox.close()
    forget_limiters()


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("pack", PACKS)
def test_E1_every_demo_connects_fixes_its_checks_and_plans_changes(pack: str, fresh_sandbox: Any) -> None:
    profile = str(ROOT / "rules" / pack / "customers" / "demo.yaml")
    connected = _run("connect", profile, "--no-browser")
    assert connected.exit_code == 0, connected.output
    fixed = _run("check", profile, "--fix", "--yes")
    assert fixed.exit_code == 0, fixed.output
    plan = _run("plan", profile, "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output


def test_L1_demo_imports_the_sandbox_bills_to_its_file_side(fresh_sandbox: Any, tmp_path: Path) -> None:
    profile = str(ROOT / "rules" / "libeo" / "customers" / "demo.yaml")
    for args in (("connect", profile, "--no-browser"), ("check", profile, "--fix", "--yes"), ("sync", profile)):
        done = _run(*args)
        assert done.exit_code == 0, done.output
    written = [json.loads(line) for line in (tmp_path / ".passerelle" / "libeo-demo" / "payables.ndjson")
               .read_text(encoding="utf-8").splitlines()]
    bills = fresh_sandbox.query("9341450000000001", "SELECT * FROM Bill").get("Bill", [])
    assert bills and sorted(w["record"]["externalId"] for w in written) == sorted(str(b["Id"]) for b in bills)
    assert {w["operation"] for w in written} == {"create"}
    assert {w["record"]["source"] for w in written} == {"quickbooks"}
    assert _run("plan", profile, "--detailed-exitcode").exit_code == 0


def test_P2_config_choices_lists_the_bank_accounts_read_live_and_refuses_one_not_among_them(
        fresh_sandbox: Any, tmp_path: Path) -> None:
    demo = str(ROOT / "rules" / "pleo" / "customers" / "demo.yaml")
    assert _run("connect", demo, "--no-browser").exit_code == 0
    fresh_sandbox.write("9341450000000001", "Account", {"Name": "Compte Qonto", "AccountType": "Bank",
                                                        "AcctNum": "512700"})  # added in QBO: offered at once
    listed = _run("config", "choices", demo, "pleo_account")
    names = [line[2:].split("    ")[0] for line in listed.output.splitlines() if line[:1] in "* "]
    assert {"Banque principale", "Banque secondaire", "Compte Qonto"} <= set(names)
    assert "Fournitures administratives" not in names  # an expense account is not a bank account
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: wrong}}\npack: {ROOT / 'rules' / 'pleo'}\n"
                     "settings:\n  pleo_account: Compte inexistant\n", encoding="utf-8")
    assert _run("connect", str(wrong), "--no-browser").exit_code == 0
    refused = _run("config", "choices", str(wrong), "pleo_account")
    assert refused.exit_code == 1
    assert "'Compte inexistant' is not one of the Account records" in refused.output
    assert "Compte Qonto" in refused.output


def test_plan_and_check_take_several_profiles_and_a_plan_says_when_apply_would_refuse(fresh_sandbox: Any) -> None:
    one, two = (str(ROOT / "rules" / pack / "customers" / "demo.yaml") for pack in ("freshbooks", "pleo"))
    for profile in (one, two):
        assert _run("connect", profile, "--no-browser").exit_code == 0
    # The Pleo demo's bank account is missing: its blocking check fails, so apply would refuse the plan.
    refused = _run("plan", two)
    assert refused.exit_code == 1 and "apply would refuse: check pleo_bank_account_exists fails" in refused.output
    checked = _run("check", one, two)
    assert checked.exit_code == 1 and "Checks of freshbooks/demo" in checked.output
    assert "Checks of pleo/demo" in checked.output  # the second ran though the first's outcome was known
    assert _run("check", two, "--fix", "--yes").exit_code == 0
    both = _run("plan", one, two, "--detailed-exitcode")
    assert both.exit_code == 2, both.output
    assert f"== {one}" in both.output and f"== {two}" in both.output
    listed = _run("plan", one, two, "--json")
    plans = json.loads(listed.stdout)
    assert [p["profile"] for p in plans] == ["demo", "demo"] and [p["pack"] for p in plans] == ["freshbooks", "pleo"]
    broken = _run("plan", one, "nosuch/profile")
    assert broken.exit_code == 1 and "profile 'nosuch/profile' not found" in broken.output
    assert "Plan for profile demo (pack freshbooks" in broken.output  # the good one still planned
    assert _run("plan").exit_code == 2 and "or --all" in _run("plan").output  # a usage error names the choices
