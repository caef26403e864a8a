"""Prerequisite checks (issue 6): every check kind passing and failing against the sandbox's French company,
``passerelle check`` with its exit codes, ``--fix`` creating a missing record, and the "retry once fixed"
loop (a failing check passes on the next run after the company was put right)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo_session import open_qbo
from connectors.qbo_target import QboTarget
from connectors.sandbox import DEFAULT_REALM_IDS, Sandbox
from connectors.sandbox.testing import TEST_TOKEN
from engine.cli.check import check, stop_on_blocking_checks
from engine.cli.session import open_session
from engine.errors import PasserelleError
from engine.pipeline import Loaded, run_pipeline
from engine.runtime.checks import (
    CHECK_KINDS,
    CheckResult,
    blocking_failures,
    fix_check,
    prepare_fix,
    run_check,
    run_checks,
)
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]
DEMO = str(ROOT / "rules/freshbooks/customers/demo.yaml")
DATA = ROOT / "rules/freshbooks/data"
REALM = DEFAULT_REALM_IDS["fr"]

SPENDING_PACK = """\
passerelle: 1
kind: pack
pack: {name: spending, version: 1.0.0}
connections:
  qbo: {connector: qbo}
settings:
  bank_account_name: {type: string, default: Banque Pleo, description: The dedicated bank account.}
  bank_account_number: {type: string, default: "512300", description: Its account number.}
  bank_account_type: {type: string, default: Bank, description: Its QBO account type.}
  vat: {type: boolean, default: true, description: Whether lines carry VAT.}
checks:
  dedicated_bank_account:
    kind: exists
    description: The dedicated bank account exists.
    entity: Account
    where: {AccountType: "'Bank'", Name: settings.bank_account_name}
    message: "QuickBooks has no bank account named {{ settings.bank_account_name }}."
    hint: "Create it (number {{ settings.bank_account_number }}), or run with --fix."
    fix:
      create: Account
      fields:
        Name: settings.bank_account_name
        AccountType: settings.bank_account_type
        AcctNum: settings.bank_account_number
  vat_set_up:
    kind: active_tax_codes
    when: settings.vat
    message: The VAT set-up is missing in QuickBooks.
    hint: Set up VAT in QuickBooks, then check again.
"""


# -- fixtures and helpers ---------------------------------------------------------------------------

@pytest.fixture
def connect(app: Any, store: Store) -> Iterator[Callable[[Loaded], QboTarget]]:
    """In-process targets on the fixture sandbox; each call is a fresh client (a new run)."""
    opened: list[tuple[QboTarget, AsgiBridge]] = []

    def open_target(loaded: Loaded) -> QboTarget:
        bridge = AsgiBridge(app)
        target = open_qbo(loaded.resolved, store, transport=bridge, token=TEST_TOKEN, realm=REALM)
        opened.append((target, bridge))
        return target

    yield open_target
    for target, bridge in opened:
        target.client.close()
        bridge.close()


def freshbooks_profile(tmp_path: Path, **settings: Any) -> Path:
    """A FreshBooks profile like the demo one, with these settings changed."""
    lines = "".join(f"  {name}: {value!r}\n".replace("True", "true").replace("False", "false")
                    for name, value in settings.items())
    path = tmp_path / "customer.yaml"
    path.write_text(textwrap.dedent("""\
        passerelle: 1
        kind: profile
        profile: {name: customer}
        pack: freshbooks
        settings:
          invoice_prefix: FB
        """) + lines + textwrap.dedent(f"""\
        connections:
          product:
            connector: file
            resources:
              invoices: {{path: {DATA / 'invoices.json'}, id: invoiceid}}
              payments: {{path: {DATA / 'payments.json'}, id: paymentid}}
              expenses: {{path: {DATA / 'expenses.json'}, id: expenseid}}
        """), encoding="utf-8")
    return path


def spending_profile(tmp_path: Path, pack: str = SPENDING_PACK, **settings: Any) -> Path:
    """A small generic pack (a dedicated bank account, VAT set-up) and a profile of it."""
    folder = tmp_path / "spending"
    (folder / "customers").mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(pack, encoding="utf-8")
    body = "".join(f"\n  {name}: {value!r}" for name, value in settings.items()) or " {}"
    path = folder / "customers" / "acme.yaml"
    path.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: acme}}\npack: spending\nsettings:{body}\n",
                    encoding="utf-8")
    return path


def set_preference(sandbox: Sandbox, block: str, name: str, value: Any) -> None:
    """What the user does in QuickBooks' settings."""
    current = sandbox.read(REALM, "Preferences", "1")
    sandbox.write(REALM, "Preferences", {"Id": "1", "SyncToken": current["SyncToken"], block: {name: value}})


def set_tax_codes_active(sandbox: Sandbox, active: bool) -> None:
    """A company without (or with) its VAT set-up: QBO's API cannot change tax codes, the user does it in QBO."""
    with sandbox.store.lock:
        for row in sandbox.realm(REALM).table("TaxCode").values():
            row["Active"] = active


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(check, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def query(sandbox: Sandbox, text: str, entity: str) -> list[dict[str, Any]]:
    return list(sandbox.query(REALM, text).get(entity, []))


# -- the registry and each kind ---------------------------------------------------------------------

def test_registry_has_the_kinds_the_schema_allows() -> None:
    import json

    schema = json.loads((ROOT / "schemas/pack.schema.json").read_text(encoding="utf-8"))
    assert set(CHECK_KINDS) == set(schema["$defs"]["check"]["properties"]["kind"]["enum"])


def test_demo_checks_on_the_french_company(target: QboTarget, demo: Loaded) -> None:
    results = by_name(run_checks(demo.compiled, target))
    # automatic numbering is off in the demo: its check does not apply
    assert "automatic_numbering_needs_qbo_numbering" not in results
    assert results["source_numbers_need_custom_numbers"].ok  # preference passing
    assert results["discounts_enabled"].ok
    assert results["vat_set_up"].ok  # active_tax_codes passing
    missing = results["discount_item_exists"]  # exists failing: the French company has no "Discount" item
    assert (missing.ok, missing.blocking, missing.fixable) == (False, False, True)
    assert missing.message == "The discount product Discount does not exist in QuickBooks."
    assert blocking_failures(_Session(demo, target)) == []


def test_exists_passes_for_an_existing_record(tmp_path: Path, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(freshbooks_profile(tmp_path, discount_item="Conseil"))
    result = run_check(loaded.compiled, connect(loaded), "discount_item_exists")
    assert result is not None and result.ok and result.message == ""


def test_F7_automatic_numbering_fails_while_qbo_uses_custom_numbers(
        tmp_path: Path, sandbox: Sandbox, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(freshbooks_profile(tmp_path, automatic_numbering=True))
    result = run_check(loaded.compiled, connect(loaded), "automatic_numbering_needs_qbo_numbering")
    assert result is not None and not result.ok and result.blocking and not result.fixable
    assert "custom transaction numbers" in result.message
    assert result.hint is not None and "Custom transaction numbers: Off" in result.hint
    set_preference(sandbox, "SalesFormsPrefs", "CustomTxnNumbers", False)
    again = run_check(loaded.compiled, connect(loaded), "automatic_numbering_needs_qbo_numbering")
    assert again is not None and again.ok


def test_G10_discounts_disabled_is_reported_with_what_to_enable(
        sandbox: Sandbox, demo: Loaded, connect: Callable[[Loaded], QboTarget]) -> None:
    set_preference(sandbox, "SalesFormsPrefs", "AllowDiscount", False)
    result = run_check(demo.compiled, connect(demo), "discounts_enabled")
    assert result is not None and not result.ok and not result.blocking
    assert result.hint is not None and "Enable discounts in QuickBooks" in result.hint
    set_preference(sandbox, "SalesFormsPrefs", "AllowDiscount", True)
    again = run_check(demo.compiled, connect(demo), "discounts_enabled")
    assert again is not None and again.ok


def test_G6_active_tax_codes_fails_without_vat_set_up(
        sandbox: Sandbox, demo: Loaded, connect: Callable[[Loaded], QboTarget]) -> None:
    set_tax_codes_active(sandbox, False)
    result = run_check(demo.compiled, connect(demo), "vat_set_up")
    assert result is not None and not result.ok and result.blocking
    assert "VAT set-up is missing" in result.message
    set_tax_codes_active(sandbox, True)
    again = run_check(demo.compiled, connect(demo), "vat_set_up")
    assert again is not None and again.ok


def test_when_false_skips_the_check(tmp_path: Path, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(spending_profile(tmp_path, vat=False))
    target = connect(loaded)
    assert run_check(loaded.compiled, target, "vat_set_up") is None
    assert [r.name for r in run_checks(loaded.compiled, target)] == ["dedicated_bank_account"]


def test_P1_fix_creates_the_dedicated_bank_account(
        tmp_path: Path, sandbox: Sandbox, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(spending_profile(tmp_path))
    target = connect(loaded)
    before = run_check(loaded.compiled, target, "dedicated_bank_account")
    assert before is not None and not before.ok and before.fixable
    assert before.message == "QuickBooks has no bank account named Banque Pleo."
    assert before.hint == "Create it (number 512300), or run with --fix."
    after = fix_check(loaded.compiled, target, "dedicated_bank_account")
    assert after is not None and after.ok
    again = fix_check(loaded.compiled, target, "dedicated_bank_account")  # passing already: nothing created
    assert again is not None and again.ok
    accounts = query(sandbox, "SELECT * FROM Account WHERE Name = 'Banque Pleo'", "Account")
    assert [(a["AccountType"], a["AcctNum"]) for a in accounts] == [("Bank", "512300")]


def test_a_fix_whose_reference_is_missing_is_explained(
        tmp_path: Path, sandbox: Sandbox, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(freshbooks_profile(tmp_path, item_income_account="Nope"))
    fix = prepare_fix(loaded.compiled, connect(loaded), "discount_item_exists")
    assert fix.error is not None and "no Account with Name = 'Nope'" in fix.error
    result = fix_check(loaded.compiled, connect(loaded), "discount_item_exists")
    assert result is not None and not result.ok and result.message == fix.error
    assert query(sandbox, "SELECT * FROM Item WHERE Name = 'Discount'", "Item") == []


# -- faults and mistakes are failed checks, never tracebacks -----------------------------------------

def test_a_qbo_fault_during_a_check_is_a_failed_check(tmp_path: Path, connect: Callable[[Loaded], QboTarget]) -> None:
    pack = SPENDING_PACK.replace("where: {AccountType: \"'Bank'\"", "where: {Colour: \"'Bank'\"")
    loaded = run_pipeline(spending_profile(tmp_path, pack))
    result = run_check(loaded.compiled, connect(loaded), "dedicated_bank_account")
    assert result is not None and not result.ok and not result.fixable
    assert result.message.startswith("QuickBooks answered with an error:")
    assert "not queryable" in result.message


def test_a_qbo_fault_while_fixing_is_reported(tmp_path: Path, sandbox: Sandbox,
                                              connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(spending_profile(tmp_path, bank_account_type="Piggy bank"))
    result = fix_check(loaded.compiled, connect(loaded), "dedicated_bank_account")
    assert result is not None and not result.ok
    assert result.message.startswith('could not create Account "Banque Pleo":')
    assert query(sandbox, "SELECT * FROM Account WHERE Name = 'Banque Pleo'", "Account") == []


def test_an_expression_failing_at_run_time_is_a_failed_check(
        tmp_path: Path, connect: Callable[[Loaded], QboTarget]) -> None:
    pack = SPENDING_PACK.replace("Name: settings.bank_account_name}", "Name: settings.bank_account_name + 1}")
    loaded = run_pipeline(spending_profile(tmp_path, pack))
    result = run_check(loaded.compiled, connect(loaded), "dedicated_bank_account")
    assert result is not None and not result.ok
    assert result.message.startswith("cannot evaluate check 'dedicated_bank_account'")


def test_an_empty_setting_is_explained_not_looked_up(tmp_path: Path, connect: Callable[[Loaded], QboTarget]) -> None:
    loaded = run_pipeline(freshbooks_profile(tmp_path, discount_item=""))
    result = run_check(loaded.compiled, connect(loaded), "discount_item_exists")
    assert result is not None and not result.ok and not result.fixable
    assert result.message == "no Item to look for: Name is empty"


# -- passerelle check --------------------------------------------------------------------------------

def test_check_command_lists_checks_and_a_non_blocking_failure_exits_0(served: Sandbox) -> None:
    code, text = run_cli(DEMO)
    assert code == 0, text
    assert "✓ source_numbers_need_custom_numbers" in text
    assert "✓ vat_set_up: The VAT (sales tax) set-up exists in QuickBooks." in text
    assert ("✗ discount_item_exists (warning, does not stop a sync): "
            "The discount product Discount does not exist in QuickBooks.") in text
    assert "fixable: run with --fix" in text
    assert "3 passed, 1 failed (0 blocking), 1 not applicable" in text


def test_F7_check_command_blocking_failure_exits_1_then_passes_once_fixed(served: Sandbox, tmp_path: Path) -> None:
    profile = str(freshbooks_profile(tmp_path, automatic_numbering=True, discount_item="Conseil"))
    code, text = run_cli(profile)
    assert code == 1, text
    assert "✗ automatic_numbering_needs_qbo_numbering: Automatic invoice numbers are on" in text
    assert "A blocking check failed" in text
    set_preference(served, "SalesFormsPrefs", "CustomTxnNumbers", False)  # the user fixes QBO, then retries
    code, text = run_cli(profile)
    assert code == 0, text
    assert "✓ automatic_numbering_needs_qbo_numbering" in text and "0 failed" in text


def test_G6_vat_set_up_missing_gives_a_clear_message_and_the_retry_passes(served: Sandbox) -> None:
    set_tax_codes_active(served, False)
    code, text = run_cli(DEMO)
    assert code == 1, text
    assert "✗ vat_set_up: QuickBooks has no active tax code: the VAT set-up is missing" in text
    assert "hint: Set up VAT in QuickBooks" in text
    set_tax_codes_active(served, True)
    code, text = run_cli(DEMO)
    assert code == 0 and "✓ vat_set_up" in text


def test_fix_creates_the_discount_item_and_the_recheck_passes(served: Sandbox) -> None:
    code, text = run_cli(DEMO, "--fix", "--yes")
    assert code == 0, text
    assert 'created Item "Discount"' in text
    checked_again = text.split("Checked again:")[1]
    assert "✓ discount_item_exists" in checked_again and "4 passed, 0 failed" in checked_again
    items = query(served, "SELECT * FROM Item WHERE Name = 'Discount'", "Item")
    assert len(items) == 1 and items[0]["Type"] == "Service"
    income = query(served, "SELECT * FROM Account WHERE Name = 'Prestations de services'", "Account")
    assert items[0]["IncomeAccountRef"]["value"] == income[0]["Id"]
    code, text = run_cli(DEMO, "--fix", "--yes")  # nothing left to fix: no second item
    assert code == 0 and "Fixing:" not in text
    assert len(query(served, "SELECT * FROM Item WHERE Name = 'Discount'", "Item")) == 1


def test_fix_needs_yes_when_not_interactive(served: Sandbox) -> None:
    code, text = run_cli(DEMO, "--fix")
    assert code == 1
    assert "E810" in text and "refusing to change the QBO company without confirmation" in text and "--yes" in text
    assert query(served, "SELECT * FROM Item WHERE Name = 'Discount'", "Item") == []


def test_P1_check_fix_over_the_cli(served: Sandbox, tmp_path: Path) -> None:
    profile = str(spending_profile(tmp_path))
    code, text = run_cli(profile)
    assert code == 1 and "✗ dedicated_bank_account: QuickBooks has no bank account named Banque Pleo." in text
    code, text = run_cli(profile, "--fix", "--yes")
    assert code == 0, text
    assert 'created Account "Banque Pleo"' in text and "2 passed, 0 failed" in text.split("Checked again:")[1]


def test_a_qbo_fault_is_reported_by_the_command_without_a_traceback(served: Sandbox, tmp_path: Path) -> None:
    pack = SPENDING_PACK.replace("where: {AccountType: \"'Bank'\"", "where: {Colour: \"'Bank'\"")
    code, text = run_cli(str(spending_profile(tmp_path, pack)))
    assert code == 1
    assert "✗ dedicated_bank_account: QuickBooks answered with an error:" in text
    assert "fixable" not in text


# -- before a sync -----------------------------------------------------------------------------------

class _Session:
    def __init__(self, loaded: Loaded, target: QboTarget) -> None:
        self.loaded, self.target = loaded, target


def test_blocking_failures_stop_a_sync(served: Sandbox, tmp_path: Path) -> None:
    with open_session(DEMO, read_only=True) as session:
        assert blocking_failures(session) == []
        stop_on_blocking_checks(session)  # passes silently
    with open_session(str(freshbooks_profile(tmp_path, automatic_numbering=True)), read_only=True) as session:
        failures = blocking_failures(session)
        assert [f.name for f in failures] == ["automatic_numbering_needs_qbo_numbering"]
        with pytest.raises(PasserelleError) as raised:
            stop_on_blocking_checks(session)
    error = raised.value.errors[0]
    assert error.code == "E811" and "1 blocking prerequisite check failed" in error.message
    assert error.hint == "fix QuickBooks, then run `passerelle check freshbooks/customer`"
