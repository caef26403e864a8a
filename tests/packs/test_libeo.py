"""The Libeo pack end to end: the real runtime against the in-process QBO sandbox (FR company) and the Libeo fake.

QBO bills become Libeo payables (L1, L3, L4, L6, L7); payments executed in Libeo become QBO BillPayments linked
to their bill, out of the chosen bank account (L2, L5); nothing typed only in Libeo reaches QBO and no flow edits
a QBO bill (L8). Each test's name starts with the feature id it proves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.checks import fix_check
from engine.runtime.render import render_text
from engine.serve.events import QboEvent
from engine.serve.process import handle_qbo
from tests.fakes.product import FakeProduct
from tests.fakes.specs import libeo
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules" / "libeo"
ROUX = PACK / "customers" / "cabinet-roux.yaml"      # every vendor, dedicated Libeo bank account 512800
BERNARD = PACK / "customers" / "fromagerie-bernard.yaml"  # three listed vendors, own bank account
ENV = {"ROUX_LIBEO_API_KEY": libeo.API_KEY, "BERNARD_LIBEO_API_KEY": libeo.API_KEY, "T_LIBEO_KEY": libeo.API_KEY}

DURAND, ENERGIE, TILLEULS = ("56", "Papeterie Durand"), ("57", "Énergie Plus"), ("59", "SCI Les Tilleuls")


@contextmanager
def libeo_run(profile: Path, fake: FakeProduct | None = None) -> Iterator[tuple[PackRun, FakeProduct]]:
    fake = fake or FakeProduct(libeo.spec())
    with pack_run(profile, products={"libeo": fake}, env=ENV) as run:
        yield run, fake


def profile_with(tmp_path: Path, **settings: Any) -> Path:
    """A customer profile over the pack with these settings (YAML flow values)."""
    lines = "".join(f"  {name}: {value}\n" for name, value in settings.items())
    path = tmp_path / "customer.yaml"
    path.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: t}}\npack: {PACK}\nsettings:\n"
                    f"  start_date: \"2025-01-01\"\n{lines}secrets: {{api_key: {{env: T_LIBEO_KEY}}}}\n", encoding="utf-8")
    return path


def bill(run: PackRun, number: str, vendor: tuple[str, str], amount: int | str, date: str = "2025-03-01"
         ) -> dict[str, Any]:
    """A bill typed in QBO (excl. VAT 20 %), as QBO returns it: VendorRef with its name."""
    return run.sandbox.write(run.realm, "Bill", {
        "VendorRef": {"value": vendor[0], "name": vendor[1]}, "DocNumber": number, "TxnDate": date,
        "DueDate": "2025-03-31", "GlobalTaxCalculation": "TaxExcluded",
        "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal(str(amount)),
                  "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"}, "TaxCodeRef": {"value": "31"}}}]})


def pay_in_qbo(run: PackRun, bill_row: Mapping[str, Any], amount: Decimal) -> None:
    """A bill payment recorded by hand in QBO (outside Libeo)."""
    run.sandbox.write(run.realm, "BillPayment", {
        "VendorRef": bill_row["VendorRef"], "PayType": "Check", "TotalAmt": amount,
        "CheckPayment": {"BankAccountRef": {"value": "1"}},
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill_row["Id"], "TxnType": "Bill"}]}]})


def payable_for(fake: FakeProduct, bill_id: str) -> dict[str, Any]:
    (found,) = [p for p in fake.records["payables"] if p.get("externalId") == bill_id]
    return found


def pay_in_libeo(fake: FakeProduct, payable: Mapping[str, Any], amount: str, *, ident: str = "pmt-50",
                 status: str = "paid", executed: str | None = "2025-03-20") -> None:
    """A payment made in Libeo, as its payments endpoint lists it (with its payable's summary)."""
    fake.records["payments"].append({"id": ident, "payableId": str(payable["id"]), "payable": libeo.payable_summary(payable),
                                     "amount": amount, "status": status, "executedAt": executed})


def sync_ok(run: PackRun) -> Any:
    plan, report = run.sync()
    assert report.ok, report.failures
    return plan


def fix_bank_account(run: PackRun) -> None:
    result = fix_check(run.session.loaded.compiled, run.session.target, "libeo_bank_account")
    assert result is not None and result.ok, result


def imported(fake: FakeProduct) -> list[dict[str, Any]]:
    return [p for p in fake.records["payables"] if p.get("source") == "quickbooks"]


# -- L1 ---------------------------------------------------------------------------------------------------------------

def test_L1_qbo_bills_are_imported_to_pay_or_paid_from_their_balance() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        open_bill = bill(run, "PD-2025-031", DURAND, 100)
        paid_bill = bill(run, "EP-88412", ENERGIE, "250.50")
        pay_in_qbo(run, paid_bill, Decimal("300.60"))  # 250.50 + 20 % VAT, settled in QBO before the import
        sync_ok(run)
        posts = [w for w in fake.writes if w.method == "POST" and w.path == "/v1/payables"]
        assert len(posts) == 2
        first, second = payable_for(fake, open_bill["Id"]), payable_for(fake, run.query("Bill")[1]["Id"])
        assert (first["invoiceNumber"], first["status"], Decimal(first["amountTtc"]), Decimal(first["remainingAmount"])) == (
            "PD-2025-031", "to_pay", Decimal("120"), Decimal("120"))
        assert first["supplier"] == {"name": "Papeterie Durand", "externalId": "56"}
        assert (first["invoiceDate"], first["dueDate"]) == ("2025-03-01", "2025-03-31")
        assert (second["invoiceNumber"], second["status"], Decimal(second["remainingAmount"])) == ("EP-88412", "paid", 0)
        assert not run.plan().has_changes  # a second sync imports nothing twice


def test_L1_bills_before_the_start_date_are_not_imported(tmp_path: Path) -> None:
    with libeo_run(profile_with(tmp_path)) as (run, fake):
        fix_bank_account(run)
        old = bill(run, "PD-2024-120", DURAND, 80, date="2024-12-15")
        bill(run, "PD-2025-001", DURAND, 90, date="2025-01-03")
        plan = sync_ok(run)
        (skip,) = [c for c in plan.changes if c.key == old["Id"]]
        assert skip.action == "skip" and "before the start date 2025-01-01" in (skip.reason or "")
        assert [p["invoiceNumber"] for p in imported(fake)] == ["PD-2025-001"]


# -- L2 ---------------------------------------------------------------------------------------------------------------

def test_L2_a_libeo_payment_becomes_a_bill_payment_linked_to_the_bill_which_is_then_paid() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        payable = payable_for(fake, row["Id"])
        pay_in_libeo(fake, payable, "120.00")
        plan = sync_ok(run)
        assert "+ create BillPayment LB-pmt-50 (payments pmt-50)" in render_text(plan)
        (payment,) = run.query("BillPayment")
        assert payment["DocNumber"] == "LB-pmt-50" and payment["TxnDate"] == "2025-03-20"
        assert payment["VendorRef"]["value"] == "56" and payment["TotalAmt"] == Decimal("120.00")
        assert payment["Line"] == [{"Amount": Decimal("120.00"), "LinkedTxn": [{"TxnId": row["Id"], "TxnType": "Bill"}]}]
        assert run.sandbox.read(run.realm, "Bill", row["Id"])["Balance"] == 0
        # The next sync reads the settled bill and tells Libeo it is paid.
        sync_ok(run)
        assert fake.writes[-1].path == f"/v1/payables/{payable['id']}"
        assert (payable["status"], Decimal(payable["remainingAmount"])) == ("paid", 0)
        assert not run.plan().has_changes  # the payment is recorded once


def test_L2_a_partial_payment_leaves_the_rest_to_pay_and_a_scheduled_one_waits() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-040", DURAND, 500)
        sync_ok(run)
        payable = payable_for(fake, row["Id"])
        pay_in_libeo(fake, payable, "200.00", ident="pmt-60")
        pay_in_libeo(fake, payable, "400.00", ident="pmt-61", status="scheduled", executed=None)
        plan = sync_ok(run)
        (waiting,) = [c for c in plan.changes if c.key == "pmt-61"]
        assert waiting.action == "skip" and waiting.reason == "payment is scheduled, not executed yet"
        assert [p["TotalAmt"] for p in run.query("BillPayment")] == [Decimal("200.00")]
        sync_ok(run)
        assert (payable["status"], Decimal(payable["remainingAmount"])) == ("to_pay", Decimal("400"))


# -- L3 ---------------------------------------------------------------------------------------------------------------

def test_L3_a_bill_edited_in_qbo_updates_its_libeo_payable_on_the_next_sync() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        payable = payable_for(fake, row["Id"])
        run.sandbox.write(run.realm, "Bill", {
            "Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, "DocNumber": "PD-2025-031B",
            "DueDate": "2025-04-15", "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal("150"),
                                             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"},
                                                                               "TaxCodeRef": {"value": "31"}}}]},
            "update")
        plan = sync_ok(run)
        (update,) = [c for c in plan.changes if c.action == "update"]
        assert {d.field for d in update.diffs} == {"invoiceNumber", "amountTtc", "remainingAmount", "dueDate"}
        assert fake.writes[-1].method == "PATCH" and fake.writes[-1].path == f"/v1/payables/{payable['id']}"
        assert (payable["invoiceNumber"], Decimal(payable["amountTtc"]), payable["dueDate"]) == (
            "PD-2025-031B", Decimal("180"), "2025-04-15")
        assert len(imported(fake)) == 1  # the same payable, not a second one


def test_L3_a_bill_zeroed_in_qbo_is_cancelled_in_libeo() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        run.sandbox.write(run.realm, "Bill", {
            "Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, "PrivateNote": "Annulée: avoir reçu",
            "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal("0"),
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"}, "TaxCodeRef": {"value": "31"}}}]},
            "update")
        sync_ok(run)
        payable = payable_for(fake, row["Id"])
        assert (payable["status"], payable["memo"]) == ("cancelled", "Annulée: avoir reçu")


def test_L3_a_bill_deleted_in_qbo_is_cancelled_in_libeo() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        run.sandbox.write(run.realm, "Bill", {"Id": row["Id"], "SyncToken": row["SyncToken"]}, "delete")
        plan = sync_ok(run)
        (change,) = [c for c in plan.changes if c.key == row["Id"]]
        assert (change.action, change.reason) == ("update", f"Bill {row['Id']} is deleted in qbo")
        payable = payable_for(fake, row["Id"])
        assert (payable["status"], Decimal(payable["remainingAmount"])) == ("cancelled", Decimal("0"))
        assert fake.writes[-1].method == "PATCH" and fake.writes[-1].path == f"/v1/payables/{payable['id']}"
        writes = len(fake.writes)
        assert not run.plan().has_changes  # told once: the next sync finds nothing more to do
        sync_ok(run)
        assert len(fake.writes) == writes


def test_L3_a_delete_webhook_cancels_the_payable_at_once() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        kept, row = bill(run, "PD-2025-030", DURAND, 50), bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        run.sandbox.write(run.realm, "Bill", {"Id": row["Id"], "SyncToken": row["SyncToken"]}, "delete")
        outcome = handle_qbo(run.session, QboEvent(run.realm, "Bill", row["Id"], "Delete"))
        assert outcome.flows == ("bills",) and len(outcome.runs) == 1
        assert payable_for(fake, row["Id"])["status"] == "cancelled"
        assert payable_for(fake, kept["Id"])["status"] == "to_pay"  # one record planned, not the whole company
        # An update event for a bill that is still there is no delete.
        assert handle_qbo(run.session, QboEvent(run.realm, "Bill", kept["Id"], "Update")).runs == ()
        assert payable_for(fake, kept["Id"])["status"] == "to_pay"


# -- L4 ---------------------------------------------------------------------------------------------------------------

def test_L4_only_the_bills_of_selected_vendors_are_imported() -> None:
    with libeo_run(BERNARD) as (run, fake):
        chosen = bill(run, "PD-2025-031", DURAND, 100)
        other = bill(run, "LOYER-2025-03", TILLEULS, 1500)
        plan = sync_ok(run)
        (skip,) = [c for c in plan.changes if c.key == other["Id"]]
        assert skip.action == "skip"
        assert skip.reason == ("vendor SCI Les Tilleuls is not one of the vendors Libeo processes (setting vendors)")
        assert [p["externalId"] for p in imported(fake)] == [chosen["Id"]]


def test_L4_every_vendor_when_the_selection_is_all(tmp_path: Path) -> None:
    with libeo_run(profile_with(tmp_path, vendor_selection="all")) as (run, fake):
        fix_bank_account(run)
        bill(run, "PD-2025-031", DURAND, 100)
        bill(run, "LOYER-2025-03", TILLEULS, 1500)
        sync_ok(run)
        assert sorted(p["supplier"]["name"] for p in imported(fake)) == ["Papeterie Durand", "SCI Les Tilleuls"]


# -- L5 ---------------------------------------------------------------------------------------------------------------

def test_L5_a_missing_libeo_bank_account_blocks_then_is_created_and_pays() -> None:
    with libeo_run(ROUX) as (run, fake):
        (failed,) = [c for c in run.checks() if not c.ok]
        assert failed.name == "libeo_bank_account" and failed.blocks and failed.fixable
        assert failed.message == "QuickBooks has no bank account Banque Libeo for Libeo payments."
        fix_bank_account(run)
        fix_bank_account(run)  # checked first: a second fix creates nothing
        (account,) = run.query("Account", "Name = 'Banque Libeo'")
        assert (account["AccountType"], account["AcctNum"]) == ("Bank", "512800")
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        pay_in_libeo(fake, payable_for(fake, row["Id"]), "120.00")
        sync_ok(run)
        (payment,) = run.query("BillPayment")
        assert payment["PayType"] == "Check" and payment["CheckPayment"]["BankAccountRef"]["value"] == account["Id"]


def test_L5_an_existing_libeo_bank_account_is_found_not_created_again(tmp_path: Path) -> None:
    with libeo_run(profile_with(tmp_path, libeo_bank_account_name="Libeo")) as (run, _):
        run.sandbox.write(run.realm, "Account", {"Name": "Libeo", "AccountType": "Bank", "AcctNum": "512900"})
        assert all(c.ok for c in run.checks())
        fix_bank_account(run)
        assert len(run.query("Account", "AccountType = 'Bank'")) == 3  # the preset's two and the customer's Libeo


def test_L5_payments_can_come_out_of_the_customers_own_bank_account(tmp_path: Path) -> None:
    with libeo_run(BERNARD) as (run, fake):
        assert all(c.ok for c in run.checks())  # Banque principale exists; no Libeo account needed
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        pay_in_libeo(fake, payable_for(fake, row["Id"]), "120.00")
        sync_ok(run)
        (payment,) = run.query("BillPayment")
        assert payment["CheckPayment"]["BankAccountRef"] == {"value": "1", "name": "Banque principale"}
        assert payment["DocNumber"] == "LIBEO-pmt-50"
        assert not run.query("Account", "Name = 'Banque Libeo'")
    with libeo_run(profile_with(tmp_path, bank_account_mode="own", bank_account="Compte Qonto")) as (run, _):
        failing = {c.name: c for c in run.checks() if not c.ok}
        # the pack's own check, and the setting's value checked against the bank accounts QBO offers
        assert set(failing) == {"own_bank_account", "setting:bank_account"}, failing
        failed = failing["own_bank_account"]
        assert failed.blocks and not failed.fixable
        assert "Compte Qonto" in failing["setting:bank_account"].message


# -- L6 ---------------------------------------------------------------------------------------------------------------

def test_L6_imported_bills_are_flagged_imported_from_quickbooks() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        (post,) = [w for w in fake.writes if w.method == "POST"]
        assert post.body["payable"]["source"] == "quickbooks" and post.body["payable"]["externalId"] == row["Id"]
        # Bills typed in Libeo keep their own flag, untouched.
        assert [p["source"] for p in fake.records["payables"]] == ["libeo", "libeo", "libeo", "quickbooks"]
        assert not [w for w in fake.writes if w.path in {"/v1/payables/pay-1", "/v1/payables/pay-2", "/v1/payables/pay-3"}]


# -- L7 ---------------------------------------------------------------------------------------------------------------

def test_L7_duplicate_bills_are_reported_before_payment() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        first = bill(run, "PD-2025-031", DURAND, 100)
        twin = run.sandbox.write(run.realm, "Bill", {**{k: first[k] for k in ("VendorRef", "TxnDate", "DueDate", "Line")},
                                                     "DocNumber": "pd-2025-031 ", "GlobalTaxCalculation": "TaxExcluded"},
                                 allow_duplicate_docnum=True)
        other = bill(run, "PD-2025-032", DURAND, 100)  # same vendor and amount, another number: not a duplicate
        plan = sync_ok(run)
        flagged = {c.key: c.reason for c in plan.changes if "duplicate" in (c.reason or "")}
        assert flagged == {twin["Id"]: f"possible duplicate of bills {first['Id']}"}
        assert "possible duplicate of bills" in render_text(plan)
        # Libeo gets the warning with the payable, before anyone pays it.
        assert payable_for(fake, twin["Id"])["possibleDuplicateOf"] == first["Id"]
        assert payable_for(fake, first["Id"])["possibleDuplicateOf"] is None
        assert payable_for(fake, other["Id"])["possibleDuplicateOf"] is None
        assert not run.plan().has_changes


# -- L8 ---------------------------------------------------------------------------------------------------------------

def test_L8_a_bill_created_only_in_libeo_is_never_pushed_to_qbo() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        plan = sync_ok(run)  # the fake holds three Libeo-typed payables, one paid in Libeo (pmt-3)
        (skip,) = [c for c in plan.changes if c.key == "pmt-3"]
        assert skip.action == "skip" and "created in Libeo, not imported from QuickBooks" in (skip.reason or "")
        assert not run.query("Bill") and not run.query("BillPayment")
        assert not any(r.path == "/v1/payables" and r.method == "GET" for r in fake.requests)  # never even read
        assert {(f.flow.source.connection, f.flow.source.entity) for f in run.session.loaded.compiled.flows.values()} == {
            ("qbo", "Bill"), ("libeo", "payments")}


def test_L8_paying_is_the_only_change_libeo_makes_to_a_qbo_bill() -> None:
    with libeo_run(ROUX) as (run, fake):
        fix_bank_account(run)
        row = bill(run, "PD-2025-031", DURAND, 100)
        sync_ok(run)
        payable = payable_for(fake, row["Id"])
        payable.update({"amountTtc": "99.00", "invoiceNumber": "EDITED-IN-LIBEO"})  # edits in Libeo stay there
        pay_in_libeo(fake, payable, "120.00")
        plans = [sync_ok(run), sync_ok(run)]
        targets = {(c.connection, c.entity) for p in plans for c in p.changes if c.action not in ("skip", "error")}
        assert targets == {("qbo", "BillPayment"), ("libeo", "payables")}
        assert {f.flow.target.entity for f in run.session.loaded.compiled.flows.values()
                if f.flow.target.connection == "qbo"} == {"BillPayment"}
        after = run.sandbox.read(run.realm, "Bill", row["Id"])
        assert {k: after[k] for k in ("DocNumber", "VendorRef", "TxnDate", "DueDate", "Line", "TotalAmt")} == {
            k: row[k] for k in ("DocNumber", "VendorRef", "TxnDate", "DueDate", "Line", "TotalAmt")}
        assert after["Balance"] == 0 and [t["TxnType"] for t in after["LinkedTxn"]] == ["BillPayment"]


# -- the demo profile (Libeo side from the pack's data/ files) ------------------------------------------------------

DEMO = PACK / "customers" / "demo.yaml"


def test_L8_demo_profile_keeps_libeo_only_payments_out_of_qbo() -> None:
    with pack_run(DEMO) as run:
        assert [c.name for c in run.checks() if c.blocks] == ["libeo_bank_account"]
        fix_bank_account(run)
        plan = sync_ok(run)
        assert {c.key: c.action for c in plan.changes} == {"pmt-101": "skip", "pmt-102": "skip"}
        assert not run.query("BillPayment") and not run.query("Bill")


def test_L1_demo_profile_imports_qbo_bills_to_its_file_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the demo appends what Libeo receives to .passerelle/libeo-demo/payables.ndjson
    with pack_run(DEMO, preset="fr-demo") as run:
        fix_bank_account(run)
        row = bill(run, "PD-2025-040", DURAND, 100)
        plan, report = run.sync()
        assert report.ok, report.failures
        created = {c.key for c in plan.changes if c.action == "create"}
        assert created == {str(b["Id"]) for b in run.query("Bill")} and row["Id"] in created  # the preset's three too
        out = tmp_path / ".passerelle" / "libeo-demo" / "payables.ndjson"
        written = {json.loads(line)["record"]["externalId"]: json.loads(line)
                   for line in out.read_text(encoding="utf-8").splitlines()}
        assert set(written) == created
        assert written[row["Id"]]["record"]["status"] == "to_pay" and written[row["Id"]]["operation"] == "create"
        assert not run.plan().has_changes
