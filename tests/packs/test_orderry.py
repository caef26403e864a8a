"""End to end: the Orderry pack (rules/orderry/) through the real runtime against the in-process QBO sandbox
and the Orderry fake (tests/fakes/specs/orderry.py). One test or more per feature id O1..O8 of FEATURES.md."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import (
    DEFAULT_REALM_IDS,
    RealmSpec,
    SandboxConfig,
    WebhookTarget,
    create_app,
    sandbox_of,
    serve,
)
from connectors.sandbox.testing import TEST_TOKEN
from engine.cli.main import cli
from engine.cli.session import open_session
from engine.runtime.apply import apply_plan
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan
from engine.runtime.realm import different_company
from engine.serve.app import create_app as serve_create_app
from engine.serve.events import QboEvent
from engine.serve.process import OneRecord
from engine.serve.profiles import served_profile
from engine.serve.worker import WorkerOptions
from engine.store import open_store
from engine.store.tables import ledger as ledger_table
from tests.e2e.test_webhooks import settle
from tests.fakes.product import FakeProduct
from tests.fakes.server import serve_app
from tests.fakes.specs import orderry
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules" / "orderry"
REPAR = PACK / "customers" / "repar-phone.yaml"
DURAND = PACK / "customers" / "cycles-durand.yaml"
DEMO = PACK / "customers" / "demo.yaml"
ENV = {"REPARPHONE_ORDERRY_USER": orderry.USER, "REPARPHONE_ORDERRY_PASSWORD": orderry.PASSWORD,
       "DURAND_ORDERRY_USER": orderry.USER, "DURAND_ORDERRY_PASSWORD": orderry.PASSWORD}


def _run(profile: Path = REPAR, fake: FakeProduct | None = None, **kwargs: Any) -> Any:
    return pack_run(profile, products={"orderry": fake or FakeProduct(orderry.spec())}, env=ENV, **kwargs)


def _invoices(run: PackRun) -> dict[str, Mapping[str, Any]]:
    return {row["DocNumber"]: row for row in run.query("Invoice")}


def _writes(fake: FakeProduct, path_end: str = "") -> list[Any]:
    return [w for w in fake.writes if w.path.endswith(path_end)]


def _orderry_invoice(fake: FakeProduct, ident: int) -> Mapping[str, Any]:
    return next(x for x in fake.records["invoices"] if x["id"] == ident)


def _pay(run: PackRun, invoice: Mapping[str, Any], amount: str, ref: str = "VIR-1") -> Mapping[str, Any]:
    return run.sandbox.write(run.realm, "Payment", {
        "CustomerRef": invoice["CustomerRef"], "TotalAmt": Decimal(amount), "TxnDate": "2025-04-20",
        "PaymentRefNum": ref, "PaymentMethodRef": {"value": "48"},
        "Line": [{"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})


def _ok(run: PackRun) -> Any:
    plan, report = run.sync()
    assert report.ok, report.failures
    return plan


def _profile(tmp_path: Path, text: str, name: str = "variant.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"passerelle: 1\nkind: profile\npack: {PACK}\n{text}", encoding="utf-8")
    return path


# -- O1 ----------------------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    forget_limiters()
    realm = DEFAULT_REALM_IDS["fr"]
    app = create_app(SandboxConfig(realms=(RealmSpec(realm, "fr"),)))
    sandbox = sandbox_of(app)
    state = tmp_path / "state.db"
    with serve(app) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_STATE", str(state))
        monkeypatch.setenv("PASSERELLE_SECRET_KEY", Fernet.generate_key().decode())
        monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
        monkeypatch.delenv("PASSERELLE_QBO_REALM", raising=False)
        yield sandbox, state
    sandbox.close()
    forget_limiters()


def _ledger(state: Path) -> set[tuple[str, str, str]]:
    """(profile, source key, QBO id) of every invoice the state store's ledger holds."""
    t = ledger_table
    with open_store(str(state)).engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.profile, t.c.source_key, t.c.target_id).where(t.c.flow == "invoices"))
        return {(str(r.profile), str(r.source_key), str(r.target_id)) for r in rows}


def test_O1_reconnecting_with_a_new_grant_keeps_the_sync_state(served: tuple[Any, Path]) -> None:
    sandbox, state = served
    realm = DEFAULT_REALM_IDS["fr"]
    runner = CliRunner()
    first = runner.invoke(cli, ["connect", str(DEMO), "--no-browser"])
    assert first.exit_code == 0, first.output
    synced = runner.invoke(cli, ["sync", str(DEMO)])
    assert synced.exit_code == 0, synced.output
    numbers = sorted(r["DocNumber"] for r in sandbox.query(realm, "SELECT * FROM Invoice").get("Invoice", []))
    assert numbers == ["INV-501", "INV-502", "INV-503"]
    ledger_before = _ledger(state)
    assert len(ledger_before) == 3
    again = runner.invoke(cli, ["connect", str(DEMO), "--no-browser"])  # a new OAuth grant for the same company
    assert again.exit_code == 0, again.output
    ledger_after = _ledger(state)
    assert ledger_after == ledger_before
    plan = runner.invoke(cli, ["plan", str(DEMO), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output  # 0: nothing would change
    resync = runner.invoke(cli, ["sync", str(DEMO)])
    assert resync.exit_code == 0, resync.output
    after = sorted(r["DocNumber"] for r in sandbox.query(realm, "SELECT * FROM Invoice").get("Invoice", []))
    assert after == numbers and len(sandbox.query(realm, "SELECT * FROM Customer").get("Customer", [])) == 7


def test_O1_a_different_company_is_refused_unless_a_fresh_ledger_is_asked_for(
        served: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, state = served
    runner = CliRunner()
    assert runner.invoke(cli, ["connect", str(DEMO), "--no-browser"]).exit_code == 0
    synced = runner.invoke(cli, ["sync", str(DEMO)])
    assert synced.exit_code == 0, synced.output
    ledger_before = _ledger(state)
    assert len(ledger_before) == 3
    other_realm = "9341450000000009"
    other_app = create_app(SandboxConfig(realms=(RealmSpec(other_realm, "fr"),)))
    other = sandbox_of(other_app)
    try:
        with serve(other_app) as other_url:
            monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", other_url)
            refused = runner.invoke(cli, ["connect", str(DEMO), "--no-browser"])
            assert refused.exit_code == 1, refused.output
            assert "E706" in refused.output and other_realm in refused.output and "--new-company" in refused.output
            assert _ledger(state) == ledger_before  # nothing forgotten, and still connected to the first company
            elsewhere = runner.invoke(cli, ["sync", str(DEMO)], env={"PASSERELLE_QBO_ACCESS_TOKEN": "any",
                                                                     "PASSERELLE_QBO_REALM": other_realm})
            assert elsewhere.exit_code != 0 and "E706" in elsewhere.output, elsewhere.output  # a run is refused too
            fresh = runner.invoke(cli, ["connect", str(DEMO), "--no-browser", "--new-company"])
            assert fresh.exit_code == 0, fresh.output
            assert "fresh ledger" in fresh.output and _ledger(state) == set()
            resync = runner.invoke(cli, ["sync", str(DEMO)])
            assert resync.exit_code == 0, resync.output
            numbers = sorted(r["DocNumber"] for r in other.query(other_realm, "SELECT * FROM Invoice").get("Invoice", []))
            assert numbers == ["INV-501", "INV-502", "INV-503"]
            assert {target for _, _, target in _ledger(state)} == {
                r["Id"] for r in other.query(other_realm, "SELECT * FROM Invoice")["Invoice"]}
        error = different_company(open_store(str(state)), "orderry/demo", DEFAULT_REALM_IDS["fr"])
        assert error is not None and other_realm in error.message  # the first company is now the other one
    finally:
        other.close()


# -- O2 ----------------------------------------------------------------------------------------------------------

def test_O2_profile_switch_is_read_by_the_runtime(tmp_path: Path) -> None:
    """The switch exists on every profile (`enabled`), is validated and shown by config explain."""
    on = _profile(tmp_path, "profile: {name: switched-on}\nsettings: {payment_account: Banque}\n"
                  "secrets: {api_user: {env: REPARPHONE_ORDERRY_USER}, api_password: {env: REPARPHONE_ORDERRY_PASSWORD}}\n")
    off = _profile(tmp_path, "profile: {name: switched-off}\nenabled: false\nsettings: {payment_account: Banque}\n"
                   "secrets: {api_user: {env: REPARPHONE_ORDERRY_USER}, api_password: {env: REPARPHONE_ORDERRY_PASSWORD}}\n",
                   "off.yaml")
    runner = CliRunner()
    assert "enabled = True" in runner.invoke(cli, ["config", "explain", str(on)]).output
    assert "enabled = False" in runner.invoke(cli, ["config", "explain", str(off)]).output


def test_O2_switched_off_integration_writes_nothing(tmp_path: Path) -> None:
    off = _profile(tmp_path, "profile: {name: switched-off}\nenabled: false\nsettings: {payment_account: Banque}\n"
                   "secrets: {api_user: {env: REPARPHONE_ORDERRY_USER}, api_password: {env: REPARPHONE_ORDERRY_PASSWORD}}\n")
    fake = FakeProduct(orderry.spec())
    with _run(off, fake) as run:
        plan = run.plan()
        assert not plan.has_changes and not plan.enabled
        run.apply(plan)
        assert run.query("Invoice") == [] and fake.writes == []
    on = _profile(tmp_path, "profile: {name: switched-on}\nenabled: true\nsettings: {payment_account: Banque}\n"
                  "secrets: {api_user: {env: REPARPHONE_ORDERRY_USER}, api_password: {env: REPARPHONE_ORDERRY_PASSWORD}}\n",
                  "on.yaml")
    with _run(on) as run:
        _ok(run)
        assert sorted(_invoices(run)) == ["INV-501"]  # the same profile switched on syncs


# -- O3 ----------------------------------------------------------------------------------------------------------

def test_O3_only_the_chosen_statuses_are_sent_automatically() -> None:
    with _run(REPAR) as run:
        plan = _ok(run)
        assert sorted(_invoices(run)) == ["INV-501"]  # issued; 502 paid, 503 partly paid, 505 draft are not listed
        skips = {c.key: c.reason for c in plan.changes if c.action == "skip" and c.flow == "invoices"}
        assert skips["505"] == "status draft is not sent automatically (sync it by hand)"
        assert set(skips) == {"502", "503", "505"}
    with _run(DURAND) as run:  # another customer, another list: sent and partially paid
        _ok(run)
        assert sorted(_invoices(run)) == ["INV-503"]


def test_O3_a_manual_sync_sends_an_invoice_whatever_its_status() -> None:
    with _run(REPAR) as run:
        plan, report = run.sync(record="505")  # "Sync with QuickBooks" on a draft invoice
        assert report.ok
        assert [c.action for c in plan.changes] == ["create"]
        assert "INV-505" in _invoices(run)


def test_O3_a_manual_sync_of_an_automatic_status_sends_only_that_invoice() -> None:
    with _run(REPAR) as run:
        plan, report = run.sync(record="501")
        assert report.ok and [(c.action, c.key) for c in plan.changes] == [("create", "501")]
        assert sorted(_invoices(run)) == ["INV-501"]


# -- O4 ----------------------------------------------------------------------------------------------------------

def test_O4_qbo_payments_on_synced_invoices_come_back_to_the_chosen_account() -> None:
    fake = FakeProduct(orderry.spec())
    with _run(REPAR, fake) as run:
        _ok(run)
        synced = _invoices(run)["INV-501"]
        foreign = run.sandbox.write(run.realm, "Invoice", {  # typed in QBO by hand: not from Orderry
            "CustomerRef": {"value": "52"}, "DocNumber": "QB-9", "GlobalTaxCalculation": "TaxExcluded",
            "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 50,
                      "SalesItemLineDetail": {"ItemRef": {"value": "60"}, "TaxCodeRef": {"value": "31"}}}]})
        _pay(run, synced, "100.00", "VIR-501")
        _pay(run, foreign, "60.00", "VIR-QB9")
        _ok(run)   # links the QBO invoice on its Orderry invoice (and moves its status: O6)
        assert [w.body for w in _writes(fake, "/quickbooks")] == [{"quickbooks_id": synced["Id"],
                                                                  "quickbooks_number": "INV-501"}]
        plan = _ok(run)
        (payment,) = [w for w in fake.writes if w.path == "/api/v2/payments"]
        assert payment.method == "POST" and payment.body["payment"] == {
            "invoice_id": "501", "amount": "100.00", "paid_at": "2025-04-20", "account": "Banque principale",
            "method": "Virement", "reference": "VIR-501",
            "external_id": f"quickbooks-payment-{_qbo_payment_id(run, 'VIR-501')}",
            "comment": "Payment received in QuickBooks (VIR-501)"}
        assert [p["invoice_id"] for p in fake.records["payments"]] == ["501"]
        foreign_skip = [c for c in plan.changes if c.flow == "payments" and c.action == "skip"]
        assert len(foreign_skip) == 1 and "has not been synced" in (foreign_skip[0].reason or "")
        assert not run.plan().has_changes  # taken once
        assert len([w for w in fake.writes if w.path == "/api/v2/payments"]) == 1


def _qbo_payment_id(run: PackRun, ref: str) -> str:
    return str(next(p["Id"] for p in run.query("Payment") if p.get("PaymentRefNum") == ref))


def test_O4_payments_stay_in_qbo_when_switched_off(tmp_path: Path) -> None:
    off = _profile(tmp_path, "profile: {name: nopay}\nsettings: {payment_account: Banque, payments_from_qbo: false}\n"
                   "secrets: {api_user: {env: REPARPHONE_ORDERRY_USER}, api_password: {env: REPARPHONE_ORDERRY_PASSWORD}}\n")
    fake = FakeProduct(orderry.spec())
    with _run(off, fake) as run:
        _ok(run)
        _pay(run, _invoices(run)["INV-501"], "216.00")
        _ok(run)
        _ok(run)
        assert not [w for w in fake.writes if w.path == "/api/v2/payments" or w.path.endswith("/quickbooks")]


# -- O5 ----------------------------------------------------------------------------------------------------------

def test_O5_each_orderry_tax_gets_its_qbo_tax_code() -> None:
    lines = [{"name": "Diagnostic", "type": "service", "quantity": "1", "price": "50.00", "tax": "TVA 20%"},
             {"name": "Housse", "type": "product", "quantity": "2", "price": "10.00", "tax": "TVA 10%"},
             {"name": "Manuel", "type": "product", "quantity": "1", "price": "20.00", "tax": "TVA 5,5%"},
             {"name": "Journal", "type": "product", "quantity": "1", "price": "3.00", "tax": "TVA 2,1%"},
             {"name": "Prêt", "type": "service", "quantity": "1", "price": "5.00", "tax": None}]
    unknown = [{"name": "Import", "type": "product", "quantity": "1", "price": "9.00", "tax": "TVA 8,5%"}]
    fake = FakeProduct(orderry.spec(invoices=(orderry.invoice(1, "issued", "Garage Petit", "paris", lines),
                                              orderry.invoice(2, "issued", "Taxi Blanc", "lyon", unknown))))
    with _run(REPAR, fake) as run:
        plan, _ = run.sync()
        invoice = _invoices(run)["INV-501"]
        codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in invoice["Line"]
                 if line.get("DetailType") == "SalesItemLineDetail"]
        assert codes == ["31", "32", "33", "34", "35"]  # 20 %, 10 %, 5,5 %, 2,1 % (row added by the profile), none
        assert invoice["TotalAmt"] == Decimal("111.16")  # 98.00 + VAT 10.00 + 2.00 + 1.10 + 0.063
        (error,) = [c for c in plan.changes if c.action == "error"]
        assert error.key == "502" and "table 'taxes' has no row for 'TVA 8,5%'" in (error.reason or "")
        assert "INV-502" not in _invoices(run)


# -- O6 ----------------------------------------------------------------------------------------------------------
# Served end to end over loopback HTTP: the QBO sandbox (sending its signed webhooks), the Orderry fake and
# `passerelle serve`'s app, whose worker plans and applies each event the sandbox reports.

WEBHOOK_TOKEN = "verifier-token-for-orderry-tests"


@dataclass
class Live:
    sandbox: Any
    fake: FakeProduct
    session: Any
    server: Any
    realm: str

    def settle(self, timeout: float = 20.0) -> None:
        settle(self.sandbox, self.server.worker, timeout)

    def sync(self) -> None:
        report = apply_plan(self.session.plan(), self.session.target, self.session.store,
                            writers=self.session.writers, attacher=self.session.target, fetcher=self.session.fetcher)
        assert report.ok, report.failures
        self.session.commit_cursors()

    def invoices(self) -> dict[str, Mapping[str, Any]]:
        rows = self.sandbox.query(self.realm, "SELECT * FROM Invoice MAXRESULTS 1000").get("Invoice", [])
        return {row["DocNumber"]: row for row in rows}

    def edit(self, number: str, **fields: Any) -> None:
        row = self.sandbox.read(self.realm, "Invoice", self.invoices()[number]["Id"])
        self.sandbox.write(self.realm, "Invoice", {**row, **fields})

    def status_writes(self, ident: int) -> list[str]:
        return [w.body["status"] for w in _writes(self.fake, f"/invoices/{ident}/status")]


@contextmanager
def _live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProduct, profile: Path = REPAR) -> Iterator[Live]:
    forget_limiters()
    realm = DEFAULT_REALM_IDS["fr"]
    app = create_app(SandboxConfig(realms=(RealmSpec(realm, "fr"),), static_tokens=(TEST_TOKEN,),
                                   webhook_token=WEBHOOK_TOKEN, webhook_retry_delays=(0.2, 0.5, 1.0)))
    sandbox = sandbox_of(app)
    for key, value in {**ENV, "PASSERELLE_QBO_WEBHOOK_TOKEN": WEBHOOK_TOKEN}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
    try:
        with serve(app) as qbo_url, serve_app(fake.app) as orderry_url:
            monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", qbo_url)
            text = profile.read_text(encoding="utf-8").replace("pack: orderry", f"pack: {PACK}")
            path = tmp_path / profile.name
            path.write_text(text.replace("\nsettings:\n", f"\nsettings:\n  api_base_url: {orderry_url}\n", 1),
                            encoding="utf-8")
            store = open_store(str(tmp_path / "state.db"))
            with open_session(str(path), store=store, token=TEST_TOKEN, realm=realm) as session:
                served = serve_create_app(store, [served_profile(session)], WorkerOptions(cdc_at_start=False,
                                                                                          cdc_every=None))
                server = served.state.server
                with serve_app(served) as url:
                    server.worker.start()
                    try:
                        sandbox.add_webhook(WebhookTarget(url + "/webhooks/qbo", "cloudevents"))
                        yield Live(sandbox, fake, session, server, realm)
                    finally:
                        server.worker.stop()
    finally:
        sandbox.close()
        forget_limiters()


def _three() -> FakeProduct:
    return FakeProduct(orderry.spec(invoices=(
        orderry.invoice(1, "issued", "Garage Petit", "paris", [orderry.INVOICES[0]["lines"][0]]),
        orderry.invoice(2, "sent", "Taxi Blanc", "lyon", [orderry.INVOICES[1]["lines"][0]]),
        orderry.invoice(3, "issued", "Velo Plus", "lyon", [orderry.INVOICES[2]["lines"][0]]))))


def _pay_live(live: Live, number: str, amount: str | None = None) -> None:
    invoice = live.invoices()[number]
    total = Decimal(amount or str(invoice["TotalAmt"]))
    live.sandbox.write(live.realm, "Payment", {
        "CustomerRef": invoice["CustomerRef"], "TotalAmt": total, "TxnDate": "2025-04-20", "PaymentRefNum": "VIR-1",
        "PaymentMethodRef": {"value": "48"},
        "Line": [{"Amount": total, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})


def test_O6_each_qbo_event_moves_the_orderry_invoice_to_the_chosen_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _three()
    with _live(tmp_path, monkeypatch, fake) as live:
        live.sync()
        live.settle()
        assert _writes(fake, "/status") == []  # our own invoices' creation is not an event that moves anything
        live.edit("INV-501", DueDate="2025-06-30")                     # Invoice Update
        _pay_live(live, "INV-502")                                     # Payment Create (and QBO's Invoice Update)
        voided = live.invoices()["INV-503"]
        live.sandbox.write(live.realm, "Invoice", {"Id": voided["Id"], "SyncToken": voided["SyncToken"]}, "void")
        live.settle()
        assert [_orderry_invoice(fake, n)["status"] for n in (501, 502, 503)] == ["modified", "paid", "void"]
        comments = {w.path: w.body["comment"] for w in _writes(fake, "/status")}
        assert comments["/api/v2/invoices/501/status"].startswith("QuickBooks: Invoice updated (invoice INV-501 v")
        assert comments["/api/v2/invoices/502/status"].startswith("QuickBooks: Payment created (invoice INV-502 v")
        assert comments["/api/v2/invoices/503/status"].startswith("QuickBooks: Invoice voided (invoice INV-503 v")
        assert live.status_writes(503) == ["void"]
        live.sync()  # a plain sync reads the same invoices without an event: it moves nothing
        assert len(_writes(fake, "/status")) == len(comments) + (len(live.status_writes(502)) - 1)


def test_O6_an_update_on_an_invoice_paid_in_orderry_does_not_move_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _three()
    with _live(tmp_path, monkeypatch, fake) as live:
        live.sync()
        _pay_live(live, "INV-502")
        live.settle()
        assert _orderry_invoice(fake, 502)["status"] == "paid"
        assert live.status_writes(502)[-1] == "paid"
        writes = len(_writes(fake, "/status"))
        live.edit("INV-502", DueDate="2025-07-31")  # an Invoice Update on an invoice paid in Orderry
        _orderry_invoice(fake, 501)["status"] = "paid"  # paid by hand in Orderry, never moved by QBO
        live.edit("INV-501", DueDate="2025-07-31")
        live.settle()
        assert len(_writes(fake, "/status")) == writes  # nothing sent: the transfer rules allow no move from paid
        assert [_orderry_invoice(fake, n)["status"] for n in (501, 502)] == ["paid", "paid"]
        qbo = live.invoices()["INV-502"]  # the plan of that event says why
        event = QboEvent(live.realm, "Invoice", qbo["Id"], "Update", "2025-07-31T10:00:00Z")
        plan = make_plan(live.session.loaded, live.session.target,
                         {**live.session.sources, "qbo": OneRecord("Invoice", qbo, event)},
                         StoreLedger(live.session.store, live.session.key), PlanOptions(record=qbo["Id"]))
        (skip,) = [c for c in plan.changes if c.flow == "invoice_events"]
        assert skip.action == "skip" and skip.reason == (
            "machine 'invoice_status' allows no move from 'paid' to 'modified' (invoices 502 is 'paid' now)")


def test_O6_every_invoice_update_moves_the_status_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _three()
    with _live(tmp_path, monkeypatch, fake) as live:
        live.sync()
        live.edit("INV-501", DueDate="2025-06-30")
        live.settle()
        assert live.status_writes(501) == ["modified"]
        _orderry_invoice(fake, 501)["status"] = "issued"  # reissued in Orderry (modified -> issued)
        live.edit("INV-501", DueDate="2025-07-15")
        live.settle()
        assert live.status_writes(501) == ["modified", "modified"] and _orderry_invoice(fake, 501)["status"] == "modified"
        live.edit("INV-501", DueDate="2025-07-31")  # still modified: the same status, told again with this event
        live.settle()
        assert live.status_writes(501) == ["modified"] * 3
        comments = [w.body["comment"] for w in _writes(fake, "/invoices/501/status")]
        assert len(set(comments)) == 3  # each event its own write (its time in the comment)


def test_O6_a_void_or_a_delete_in_qbo_gives_the_voided_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _three()
    with _live(tmp_path, monkeypatch, fake) as live:
        live.sync()
        voided = live.invoices()["INV-503"]
        live.sandbox.write(live.realm, "Invoice", {"Id": voided["Id"], "SyncToken": voided["SyncToken"]}, "void")
        live.edit("INV-501", DueDate="2025-06-30")
        live.settle()
        assert live.status_writes(503) == ["void"] and live.status_writes(501) == ["modified"]
        gone = live.invoices()["INV-501"]
        live.sandbox.write(live.realm, "Invoice", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]}, "delete")
        live.settle()
        assert "INV-501" not in live.invoices()
        assert live.status_writes(501) == ["modified", "void"] and _orderry_invoice(fake, 501)["status"] == "void"
        (last,) = [w for w in _writes(fake, "/invoices/501/status")][-1:]
        assert last.body["comment"] == f"QuickBooks: Invoice voided (invoice deleted, QuickBooks id {gone['Id']})"


def test_O6_the_statuses_are_the_customers_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeProduct(orderry.spec(invoices=(orderry.invoice(2, "sent", "Taxi Blanc", "lyon",
                                                              [orderry.INVOICES[1]["lines"][0]]),
                                              orderry.invoice(3, "sent", "Velo Plus", "lyon",
                                                              [orderry.INVOICES[2]["lines"][0]]))))
    with _live(tmp_path, monkeypatch, fake, DURAND) as live:
        live.sync()
        _pay_live(live, "INV-502", "20.00")
        live.edit("INV-503", DueDate="2025-06-30")
        live.settle()
        assert {w.path: w.body["status"] for w in _writes(fake, "/status")} == {
            "/api/v2/invoices/502/status": "partially_paid"}  # this shop's choice; edits are ignored (row removed)


# -- O7 ----------------------------------------------------------------------------------------------------------

def test_O7_a_status_the_transfer_rules_forbid_fails_validate_at_the_profile_line(tmp_path: Path) -> None:
    bad = _profile(tmp_path, "profile: {name: bad}\nsettings:\n  payment_account: Banque\n"
                   "  status_on_invoice_updated: draft\n")
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:7:" in result.output and "error[E506]" in result.output
    assert "'qbo:Invoice.Update' moves records to 'draft'" in result.output
    good = _profile(tmp_path, "profile: {name: good}\nsettings:\n  payment_account: Banque\n"
                    "  status_on_invoice_updated: modified\n", "good.yaml")
    assert CliRunner().invoke(cli, ["validate", str(good)]).exit_code == 0


def test_O7_the_check_runs_before_any_sync(tmp_path: Path) -> None:
    bad = _profile(tmp_path, "profile: {name: bad}\nsettings: {payment_account: Banque, status_on_invoice_voided: issued}\n")
    result = CliRunner().invoke(cli, ["sync", str(bad)])
    assert result.exit_code == 1 and "E506" in result.output and "'issued'" in result.output
    assert "Applied" not in result.output


@pytest.mark.parametrize(("guard", "message", "hint"), [
    ("{machine: invoice_statuz, field: status}", "guard names machine 'invoice_statuz', which the pack does not",
     "'invoice_status'"),
    ("{machine: invoice_status, field: state}", "guard field 'state' is not one of the flow's fields", "'status'"),
])
def test_O7_a_status_guard_naming_an_unknown_machine_or_field_is_a_located_error(
        tmp_path: Path, guard: str, message: str, hint: str) -> None:
    pack = tmp_path / "orderry"
    shutil.copytree(PACK, pack, ignore=shutil.ignore_patterns("cases"))
    flows = pack / "flows" / "qbo_events.yaml"
    text = flows.read_text(encoding="utf-8")
    shipped = "guard: {machine: invoice_status, field: status}"
    assert shipped in text
    flows.write_text(text.replace(shipped, f"guard: {guard}"), encoding="utf-8")
    line = next(n for n, row in enumerate(flows.read_text(encoding="utf-8").splitlines(), 1) if "guard:" in row)
    result = CliRunner().invoke(cli, ["validate", str(pack)])
    assert result.exit_code == 1, result.output
    assert f"qbo_events.yaml:{line}:" in result.output and "error[E507]" in result.output and message in result.output
    assert f"hint: did you mean {hint}" in result.output


def test_O7_a_status_guard_setting_an_unknown_state_is_a_located_error(tmp_path: Path) -> None:
    pack = tmp_path / "orderry"
    shutil.copytree(PACK, pack, ignore=shutil.ignore_patterns("cases"))
    flows = pack / "flows" / "qbo_events.yaml"
    text = flows.read_text(encoding="utf-8")
    start = text.index("      status: >-\n        settings.status_on_invoice_voided if")
    status = text[start:text.index("      # the invoice's")]
    flows.write_text(text.replace(status, "      status: {const: payed}\n"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(pack)])
    assert result.exit_code == 1, result.output
    assert "error[E507]" in result.output and "sets 'payed', which is not a state of machine 'invoice_status'" in \
        result.output and "'paid'" in result.output


# -- O8 ----------------------------------------------------------------------------------------------------------

def test_O8_every_location_is_synced_with_the_same_settings() -> None:
    shops = (orderry.invoice(1, "issued", "Garage Petit", "paris", [orderry.INVOICES[0]["lines"][0]]),
             orderry.invoice(2, "issued", "Taxi Blanc", "lyon", [orderry.INVOICES[0]["lines"][0]]),
             orderry.invoice(3, "draft", "Velo Plus", "lyon", [orderry.INVOICES[0]["lines"][0]]),
             {**orderry.invoice(4, "issued", "Auto Ecole", "paris", [orderry.INVOICES[0]["lines"][0]]),
              "location": {"id": 3, "name": "Marseille Vieux-Port"}})
    fake = FakeProduct(orderry.spec(invoices=shops))
    with _run(REPAR, fake) as run:
        _ok(run)
        qbo = _invoices(run)
        assert sorted(qbo) == ["INV-501", "INV-502", "INV-504"]  # the draft stays in Orderry, whatever the shop
        assert [qbo[n].get("DepartmentRef", {}).get("value") for n in ("INV-501", "INV-502", "INV-504")] == [
            "43", "44", None]  # Paris, Lyon; a shop with no QBO location is synced all the same
        assert {qbo[n]["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] for n in qbo} == {"31"}
        for n in ("INV-501", "INV-502"):
            _pay(run, qbo[n], "10.00", f"VIR-{n}")
        _ok(run)
        _ok(run)
        payments = sorted((p["invoice_id"], p["account"]) for p in fake.records["payments"])
        assert payments == [("501", "Banque principale"), ("502", "Banque principale")]


# -- taxes by code or by name (the seed's mapping page: "Code fiscal (ou nom de la taxe) dans QuickBooks") ---------

def test_orderry_taxes_matched_by_qbo_tax_code_or_by_the_name_of_its_tax(tmp_path: Path) -> None:
    """A row of the taxes table may hold the QBO tax code's name or the name of the tax (rate) it applies;
    both find the same tax code, and `check --tables` accepts both."""
    profile = tmp_path / "taxes-by-name.yaml"
    profile.write_text(REPAR.read_text(encoding="utf-8").replace("pack: orderry", f"pack: {PACK}").replace(
        '      TVA 2,1%: "TVA 2,1 %"\n',
        '      TVA 2,1%: "TVA 2,1 %"\n'
        '    replace:\n'
        '      TVA 10%: "TVA collectée 10 %"\n'), encoding="utf-8")
    lines = [{"name": "Diagnostic", "type": "service", "quantity": "1", "price": "50.00", "tax": "TVA 20%"},
             {"name": "Housse", "type": "product", "quantity": "2", "price": "10.00", "tax": "TVA 10%"}]
    fake = FakeProduct(orderry.spec(invoices=(orderry.invoice(1, "issued", "Garage Petit", "paris", lines),)))
    with _run(profile, fake) as run:
        plan, report = run.sync()
        assert report.ok, report.failures
        invoice = _invoices(run)["INV-501"]
        codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in invoice["Line"]
                 if line.get("DetailType") == "SalesItemLineDetail"]
        assert codes == ["31", "32"]  # "TVA 20 %" by the code's name, "TVA collectée 10 %" by its tax's name
        from engine.runtime.tables import check_table_refs

        found = check_table_refs(run.session.loaded.resolved, run.session.target.reference_data())
        assert [e for e in found if e.severity == "error"] == []

    broken = tmp_path / "taxes-unknown.yaml"
    broken.write_text(profile.read_text(encoding="utf-8").replace("TVA collectée 10 %", "TVA collectée 11 %"),
                      encoding="utf-8")
    fake = FakeProduct(orderry.spec(invoices=(orderry.invoice(1, "issued", "Garage Petit", "paris", lines),)))
    with _run(broken, fake) as run:
        plan, _ = run.sync()
        (error,) = [c for c in plan.changes if c.action == "error"]
        assert "no TaxCode with Name = 'TVA collectée 11 %'" in (error.reason or "")
