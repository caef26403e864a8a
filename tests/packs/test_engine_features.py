"""Engine-level behaviours every integration needs (FEATURES.md E1-E5), end to end: the FreshBooks pack read from
its fake over the http connection, written to the in-process QBO sandbox, and the CLI for what users type."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.qbo.client import QboClient
from connectors.sandbox import FaultKind, FaultRule
from engine.cli.main import cli
from engine.packtest import discover_cases, run_cases
from engine.resources import rules_dir
from engine.runtime.render import render_text
from tests.fakes.product import FakeProduct
from tests.fakes.specs import freshbooks as fb
from tests.packs.harness import PackRun, pack_run
from tests.packs.test_freshbooks import ENV, PACK, write_profile

SETTINGS = {"create_items": True, "invoice_prefix": "FB", "sync_expenses": True}
DOCUMENTS = ("Invoice", "Payment", "Bill", "Customer", "Item", "Vendor")


@contextmanager
def bakery(tmp_path: Path, settings: dict[str, Any] | None = None, tables: dict[str, Any] | None = None
           ) -> Iterator[tuple[PackRun, FakeProduct]]:
    fake = FakeProduct(fb.spec())
    with pack_run(write_profile(tmp_path, {**SETTINGS, **(settings or {})}, tables), products={"product": fake},
                  env=ENV) as run:
        yield run, fake


def counts(run: PackRun) -> dict[str, int]:
    return {entity: len(run.query(entity)) for entity in DOCUMENTS}


def numbers(run: PackRun, entity: str = "Invoice") -> list[str]:
    return sorted(str(doc.get("DocNumber")) for doc in run.query(entity))


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


# -- E1 dry run -----------------------------------------------------------------------------------------------

def test_E1_dry_run_shows_create_update_void_skip_field_by_field_and_writes_nothing(tmp_path: Path) -> None:
    with bakery(tmp_path, {"due_days": 30}) as (run, fake):
        first = run.plan()
        assert {c.action for c in first.changes} == {"create", "skip"} and first.first_sync
        assert counts(run)["Invoice"] == 0  # the first plan wrote nothing either
        run.apply(first)
        invoices = fake.records["invoices"]  # then, in FreshBooks:
        invoices[1].update(v3_status="deleted", updated="2025-01-09 09:00:00")  # 1202 deleted
        invoices[3] = fb.invoice(4, "partial", ("Sophie", "Laurent", "", None), [  # 1204: one more turnover, a due date
            fb.line(1, "CRO-BEUR", None, "3", "0.95", "VAT 5.5"), fb.line(2, "PAIN-CHOC", None, "3", "0.95", "VAT 5.5"),
            fb.line(3, "CHAUSSON", None, "4", "0.95", "VAT 5.5")], "2025-01-09 10:00:00", due="2025-02-15")
        invoices.append(fb.invoice(9, "sent", ("Lucie", "Bernard", "Café du Marché", None), [  # 1209: new
            fb.line(1, "BAG-TRAD", "Baguette tradition", "10", "1.20", "VAT 5.5")], "2025-01-09 11:00:00"))
        invoices.append(fb.invoice(8, "draft", ("Lucie", "Bernard", "Café du Marché", None), [  # 1208: a draft
            fb.line(1, "BAG-TRAD", "Baguette tradition", "3", "1.20", "VAT 5.5")], "2025-01-09 12:00:00"))
        writes: list[Any] = []
        run.sandbox.subscribe(writes.append)
        before = {entity: run.query(entity) for entity in DOCUMENTS}
        plan = run.plan()

        actions = {(c.action, c.key) for c in plan.changes if c.flow == "invoices"}
        assert actions == {("void", "1202"), ("update", "1204"), ("create", "1209"), ("skip", "1208"), ("skip", "1205")}
        update = next(c for c in plan.changes if c.action == "update")
        diffs = {d.field: (d.before, d.after) for d in update.diffs}
        assert diffs["DueDate"] == ("2025-02-03", "2025-02-15")
        assert [line["SalesItemLineDetail"]["Qty"] for line in diffs["Line"][1][:3]] == ["3", "3", "4"]
        assert [str(line["Description"]) for line in diffs["Line"][1][3:]] == ["Rounding"]  # still a cent to round
        assert "TxnDate" not in diffs and "CustomerRef" not in diffs  # only what changed is listed
        text = render_text(plan, color=False)
        assert "~ update Invoice" in text and 'DueDate: "2025-02-03" -> "2025-02-15"' in text
        assert "- void Invoice" in text and "+ create Invoice FB1209" in text
        assert "? skip Invoice 1208 (invoices 1208): status draft is not synced" in text

        assert writes == [] and {entity: run.query(entity) for entity in DOCUMENTS} == before  # QBO saw no write
        assert fake.writes == []
        report = run.apply(plan)  # carrying the plan out does what it showed
        assert report.ok, report.failures
        assert writes and numbers(run) == ["FB1201", "FB1202", "FB1204", "FB1209"]
        totals = {i["DocNumber"]: i["TotalAmt"] for i in run.query("Invoice")}
        assert totals["FB1202"] == 0 and totals["FB1204"] == Decimal(invoices[3]["amount"]["amount"])  # voided, updated


# -- E2 no duplicates -----------------------------------------------------------------------------------------

EXPECTED = {"Invoice": 3, "Payment": 2, "Bill": 3}


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The QBO client retries as in production, but its backoff is recorded instead of waited (seconds each)."""
    seen: list[int] = []
    monkeypatch.setattr(QboClient, "backoff", lambda self, attempt, answer: seen.append(attempt))
    return seen


def test_E2_writes_that_commit_then_time_out_are_not_written_twice(tmp_path: Path, backoffs: list[int]) -> None:
    with bakery(tmp_path) as (run, _):
        base = counts(run)
        run.sandbox.faults.next_write("batch", FaultKind.TIMEOUT, after_commit=True, times=10)
        _, report = run.sync()
        timeouts = [f for f in run.sandbox.faults.history if f.kind is FaultKind.TIMEOUT and f.after_commit]
        assert len(timeouts) >= 3  # the invoice, payment and bill batches all lost their answer
        assert report.ok, report.failures
        after = counts(run)
        assert {e: after[e] for e in EXPECTED} == EXPECTED
        assert numbers(run) == ["FB1201", "FB1202", "FB1204"] and numbers(run, "Bill") == ["71", "72", "73"]
        assert after["Customer"] - base["Customer"] == 3 and after["Vendor"] - base["Vendor"] == 3
        assert not run.plan().has_changes  # and the next run has nothing left to do


def test_E2_applying_the_same_plan_twice_writes_once(tmp_path: Path) -> None:
    with bakery(tmp_path) as (run, _):
        plan = run.plan()
        assert run.apply(plan).ok
        once = counts(run)
        again = run.apply(plan)  # a repeated apply (a retried job, a double click)
        assert again.ok, again.failures
        assert counts(run) == once and {e: once[e] for e in EXPECTED} == EXPECTED


def test_E2_a_rerun_after_failures_completes_without_duplicates(tmp_path: Path, backoffs: list[int]) -> None:
    with bakery(tmp_path) as (run, _):
        run.sandbox.faults.script(FaultRule(FaultKind.SERVER_ERROR, after_commit=False, target="batch", method="POST",
                                            times=99))
        _, failed = run.sync()
        assert failed.failures and counts(run)["Invoice"] == 0 and backoffs  # retried, then given up
        run.sandbox.faults.clear()
        _, report = run.sync()  # QBO is back: the next run sends what failed
        assert report.ok, report.failures
        _, third = run.sync()
        assert counts(run)["Invoice"] == 3 and {e: counts(run)[e] for e in EXPECTED} == EXPECTED
        assert not third.counts.get("create")


def test_E2_an_invoice_typed_in_qbo_meanwhile_is_adopted_not_duplicated(tmp_path: Path) -> None:
    with bakery(tmp_path) as (run, _):
        run.sandbox.write(run.realm, "Invoice", {
            "DocNumber": "FB1201", "CustomerRef": {"value": "52"}, "GlobalTaxCalculation": "TaxExcluded",
            "Line": [{"Amount": 210, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "60"}, "TaxCodeRef": {"value": "33"}}}]})
        plan, report = run.sync()
        assert report.ok and numbers(run) == ["FB1201", "FB1202", "FB1204"]
        adopted = next(c for c in plan.changes if c.key == "1201")
        assert adopted.action != "create" and adopted.reason == "matched by DocNumber = 'FB1201'"


# -- E3 profiles ----------------------------------------------------------------------------------------------

def test_E3_a_profile_changes_settings_and_table_rows_without_copying_the_pack(tmp_path: Path) -> None:
    tables = {"expense_categories": {"add": {"Utilities": "Énergie"}, "replace": {"Telephone": "Services bancaires"},
                                     "remove": ["Rent"]},
              "clearing_accounts": {"replace": {"Credit Card": "Banque principale"}}}
    profile = write_profile(tmp_path, {**SETTINGS, "invoice_prefix": "BK-", "purchase_prefix": "ACH-"}, tables)
    text = profile.read_text(encoding="utf-8")
    assert "flows" not in text and "fields" not in text and len(text) < 1200  # a few lines over the shared pack
    fake = FakeProduct(fb.spec())
    with pack_run(profile, products={"product": fake}, env=ENV) as run:
        _, report = run.sync()
        assert report.ok, report.failures
        assert numbers(run) == ["BK-1201", "BK-1202", "BK-1204"]
        bills = {b["DocNumber"]: b["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"]
                 for b in run.query("Bill")}
        assert bills == {"ACH-71": "Fournitures administratives", "ACH-72": "Énergie", "ACH-73": "Services bancaires"}
        deposit = {p["PaymentRefNum"]: p["DepositToAccountRef"]["name"] for p in run.query("Payment")}
        assert deposit["FB-PAY-301"] == "Banque principale"
        tables_now = run.session.loaded.resolved.tables["expense_categories"]
        assert "Rent" not in tables_now.rows
    other = tmp_path / "other"
    other.mkdir()
    with bakery(other) as (run, _):
        _, report = run.sync()  # the pack itself is untouched: another customer gets its defaults
        assert numbers(run) == ["FB1201", "FB1202", "FB1204"]
        assert sorted(b["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] for b in run.query("Bill")) == [
            "Fournitures administratives", "Fournitures administratives", "Frais postaux et télécommunications"]
    code, explained = cli_run("config", "explain", str(profile))
    assert code == 0, explained
    assert f"invoice_prefix = BK-    [profile] {profile}" in explained.replace(str(tmp_path.resolve()), str(tmp_path))
    assert "'Utilities' -> Énergie    [profile add]" in explained and "[pack default]" in explained


def test_E3_a_profile_cannot_redefine_the_pack(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {"invoice_prefix": 12, "no_such_setting": True},
                            {"sales_taxes": {"add": {"VAT 20": "TVA 10 %"}}})
    code, text = cli_run("validate", str(profile))
    assert code == 1 and "Traceback" not in text
    assert "E310" in text and "no_such_setting" in text  # settings are the pack's, typed
    assert "E312" in text or "E203" in text  # a number where the pack wants text
    assert "E313" in text and "use `replace`" in text  # add cannot silently overwrite a pack row


# -- E4 cases -------------------------------------------------------------------------------------------------

def pack_problems(root: Path) -> list[str]:
    """Every pack under ``root`` must ship cases, and every case must plan what it expects."""
    problems = []
    for pack in sorted(p for p in root.iterdir() if (p / "pack.yaml").is_file()):
        if not discover_cases(str(pack), root):
            problems.append(f"{pack.name}: no cases")
            continue
        problems += [f"{r.id}: {r.errors or 'plan differs'}" for r in run_cases(str(pack), rules=root) if not r.ok]
    return problems


def test_E4_every_pack_ships_snapshot_cases_and_they_pass() -> None:
    root = rules_dir()
    packs = [p.name for p in root.iterdir() if (p / "pack.yaml").is_file()]
    assert "freshbooks" in packs and len(discover_cases("freshbooks")) >= 4
    assert pack_problems(root) == []
    code, text = cli_run("test", "freshbooks")
    assert code == 0 and "failed" in text and ", 0 failed" in text


def test_E4_a_pack_without_cases_or_with_a_stale_case_fails(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules / "freshbooks", ignore=shutil.ignore_patterns("cases"))
    assert pack_problems(rules) == ["freshbooks: no cases"]
    code, text = cli_run("test", str(rules / "freshbooks"))
    assert code == 1 and "Traceback" not in text
    shutil.copytree(PACK / "cases" / "update_changed_fields", rules / "freshbooks/cases/update_changed_fields")
    assert pack_problems(rules) == []
    expected = rules / "freshbooks/cases/update_changed_fields/expected.txt"
    expected.write_text(expected.read_text(encoding="utf-8").replace("2024-04-18", "2024-04-19"), encoding="utf-8")
    assert pack_problems(rules) == ["freshbooks/update_changed_fields: plan differs"]


# -- E5 errors ------------------------------------------------------------------------------------------------

@pytest.fixture
def broken_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "freshbooks"
    shutil.copytree(PACK, pack, ignore=shutil.ignore_patterns("cases", "customers"))
    return pack


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in text)


def test_E5_an_unknown_function_is_reported_at_its_file_line_and_column(broken_pack: Path) -> None:
    flows = broken_pack / "flows/expenses.yaml"
    edit(flows, "DueDate: add_days(record.date, settings.bill_due_days)",
         "DueDate: add_dayz(record.date, settings.bill_due_days)")
    code, text = cli_run("validate", str(broken_pack))
    assert code == 1 and "Traceback" not in text
    line = line_of(flows, "add_dayz")
    assert f"flows/expenses.yaml:{line}:" in text and "error[E402]" in text and "add_dayz" in text


def test_E5_yaml_syntax_and_duplicate_keys_are_located(broken_pack: Path) -> None:
    settings = broken_pack / "settings.yaml"
    edit(settings, "  sync_expenses:               # F1\n",
         "  sync_invoices: {type: boolean, default: true, description: again}\n  sync_expenses:               # F1\n")
    code, text = cli_run("validate", str(broken_pack))
    assert code == 1 and "Traceback" not in text
    assert f"settings.yaml:{line_of(settings, 'sync_invoices: {type')}:3: error[E104]" in text
    assert "duplicate key" in text
    tables = broken_pack / "tables.yaml"
    edit(tables, "    on_missing: error\n    csv:", "    on_missing: error\n   csv:")
    code, text = cli_run("validate", str(broken_pack))
    assert code == 1 and "Traceback" not in text and "tables.yaml:" in text and "error[E100]" in text


def test_E5_a_bad_key_in_a_flow_and_a_bad_profile_through_plan(broken_pack: Path, tmp_path: Path) -> None:
    flows = broken_pack / "flows/payments.yaml"
    edit(flows, "    depends_on: [invoices]", "    depends_on: [invoices]\n    retry: 3")
    code, text = cli_run("validate", str(broken_pack))
    assert code == 1 and "Traceback" not in text
    assert f"flows/payments.yaml:{line_of(flows, 'retry: 3')}:5: error[E200]" in text and "retry" in text
    profile = tmp_path / "customer.yaml"
    profile.write_text(json.dumps({"passerelle": 1, "kind": "profile", "profile": {"name": "x"},
                                   "pack": str(PACK), "settings": {"due_days": "thirty"}}), encoding="utf-8")
    code, text = cli_run("plan", str(profile))
    assert code == 1 and "Traceback" not in text
    assert f"{profile.name}:1:" in text and "due_days" in text
