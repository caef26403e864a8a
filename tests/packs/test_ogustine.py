"""Ogustine pack end to end: the real runtime against the in-process French QBO sandbox and the Ogustine
fake (tests/fakes/specs/ogustine.py), one test (at least) per feature G1-G12 of FEATURES.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, create_app, sandbox_of, serve
from engine.cli.check import stop_on_blocking_checks
from engine.cli.main import cli
from engine.errors import PasserelleError
from engine.runtime.apply import apply_plan
from engine.runtime.checks import blocking_failures
from engine.runtime.history import list_errors, set_error_status
from engine.runtime.render import render_text
from tests.fakes.product import FakeProduct
from tests.fakes.specs import ogustine
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules/ogustine"
LYON = PACK / "customers/menage-services-lyon.yaml"
DEMO = PACK / "customers/demo.yaml"
ENV = {"LYON_OGUSTINE_TOKEN": ogustine.TOKEN}
REALM = DEFAULT_REALM_IDS["fr"]
CLASH = "A customer, vendor or employee with this name already exists in QuickBooks"


def pdf_bytes(name: str) -> bytes:
    return b"%PDF-1.4\n% Ogustine " + name.encode() + b"\n%%EOF\n"


def with_pdfs(fake: FakeProduct, seen: list[str]) -> Starlette:
    """The fake's API plus the PDFs Ogustine serves on the same host (same bearer token)."""

    async def document(request: Request) -> Response:
        seen.append(request.url.path)
        if request.headers.get("authorization") != f"Bearer {ogustine.TOKEN}":
            return JSONResponse({"error": "unauthorized"}, 401)
        return Response(pdf_bytes(request.path_params["name"]), media_type="application/pdf")

    return Starlette(routes=[Route("/api/documents/{name}", document), Mount("/", app=fake.app)])


def profile(tmp_path: Path, name: str = "ogustine-test", **settings: Any) -> Path:
    """A customer profile over the pack with these settings (the Lyon customer's API and secret)."""
    lines = [f"passerelle: 1\nkind: profile\nprofile: {{name: {name}}}\npack: {PACK}\n",
             "secrets: {api_token: {env: LYON_OGUSTINE_TOKEN}}\nsettings:\n  start_date: \"2025-01-01\"\n"]
    lines += [f"  {key}: {str(value).lower() if isinstance(value, bool) else value}\n" for key, value in settings.items()]
    path = tmp_path / f"{name}.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def fake() -> FakeProduct:
    return FakeProduct(ogustine.spec())


@pytest.fixture
def run(tmp_path: Path, fake: FakeProduct) -> Iterator[PackRun]:
    """The Lyon set-up without PDFs (G2 has its own tests), on a company whose vendor SCI Les Tilleuls was renamed."""
    with pack_run(profile(tmp_path, attach_pdf=False), products={"product": fake}, env=ENV) as r:
        rename_vendor(r)
        yield r


def rename_vendor(run: PackRun) -> None:
    """What the user does in QBO when a customer's name is already a vendor's (the fix of G10)."""
    vendor = next(v for v in run.query("Vendor") if v["DisplayName"] == "SCI Les Tilleuls")
    run.sandbox.write(run.realm, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                            "DisplayName": "SCI Les Tilleuls (bailleur)"})


def set_preference(run: PackRun, block: str, name: str, value: Any) -> None:
    current = run.sandbox.read(run.realm, "Preferences", "1")
    run.sandbox.write(run.realm, "Preferences", {"Id": "1", "SyncToken": current["SyncToken"], block: {name: value}})


def set_tax_codes_active(run: PackRun, active: bool) -> None:
    with run.sandbox.store.lock:
        for row in run.sandbox.realm(run.realm).table("TaxCode").values():
            row["Active"] = active


def new_run(run: PackRun) -> None:
    """Each `passerelle` command opens a new QBO client, whose company reads (reference data, preferences) are
    cached for that run only; the harness keeps one session, so a "retry" after a fix in QBO starts afresh here."""
    run.session.target.client._reference = None
    run.session.target.client._preferences = None


def by_number(run: PackRun, entity: str) -> dict[str, dict[str, Any]]:
    return {row["DocNumber"]: row for row in run.query(entity)}


def names(run: PackRun, entity: str, field: str) -> dict[str, dict[str, Any]]:
    return {row[field]: row for row in run.query(entity)}


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text, text
    return result.exit_code, text


# -- G1 ------------------------------------------------------------------------------------------------------

def test_G1_invoices_credit_notes_customers_and_services_are_synced(run: PackRun, fake: FakeProduct) -> None:
    _, report = run.sync()
    assert report.ok, report.failures
    customers = names(run, "Customer", "DisplayName")
    assert customers["Mme Durand"]["PrimaryEmailAddr"]["Address"] == "durand@example.fr"
    assert customers["SCI Les Tilleuls"]["CompanyName"] == "SCI Les Tilleuls"
    items = names(run, "Item", "Name")
    assert items["Ménage"]["Type"] == "Service" and items["Ménage"]["IncomeAccountRef"]["value"] == "15"
    assert items["Jardinage"]["SalesTaxCodeRef"]["value"] == "31"  # TVA 20 %
    invoices = by_number(run, "Invoice")
    first, second = invoices["OGUSTINE_2025-05-01"], invoices["OGUSTINE_2025-05-02"]
    assert str(first["TotalAmt"]) == "110.00" and str(second["TotalAmt"]) == "300.00"  # Ogustine's totals incl. VAT
    assert first["CustomerRef"]["value"] == customers["Mme Durand"]["Id"]
    line = first["Line"][0]["SalesItemLineDetail"]
    assert line["ItemRef"]["value"] == items["Ménage"]["Id"] and line["TaxCodeRef"]["value"] == "32"  # TVA 10 %
    memo = by_number(run, "CreditMemo")["OGUSTINE_AV2025-05-01"]
    assert str(memo["TotalAmt"]) == "60.00" and memo["CustomerRef"]["value"] == customers["SCI Les Tilleuls"]["Id"]
    assert memo["PrivateNote"] == "Ogustine credit note 2025-05-01 on invoice OGUSTINE_2025-05-02"
    # product side: read only, every page of invoices (a short page is the last), nothing written back
    assert fake.writes == []
    pages = [r.query.get("page") for r in fake.requests if r.path == "/api/invoices"]
    assert pages == ["1"] and fake.records["invoices"][0]["status"] == "validated"
    # a second run finds nothing to do
    again = run.plan()
    assert not again.has_changes


# -- G2 ------------------------------------------------------------------------------------------------------

def test_G2_demo_attaches_the_pdf_files_to_invoices_and_credit_memos() -> None:
    with pack_run(DEMO) as run:
        _, report = run.sync()
        assert report.ok, report.failures
        assert report.counts["attached"] == 4
        invoices = by_number(run, "Invoice")
        files = names(run, "Attachable", "FileName")
        pdf = files["OGUSTINE_2025-04-01.pdf"]
        assert pdf["ContentType"] == "application/pdf"
        assert pdf["AttachableRef"][0]["EntityRef"] == {"type": "Invoice", "value": invoices["OGUSTINE_2025-04-01"]["Id"]}
        stored = run.sandbox.realm(run.realm).files[pdf["Id"]]
        assert stored == (PACK / "data/pdf/2025-04-01.pdf").read_bytes()
        memo = by_number(run, "CreditMemo")["OGUSTINE_AV2025-04-01"]
        assert files["OGUSTINE_AV2025-04-01.pdf"]["AttachableRef"][0]["EntityRef"]["value"] == memo["Id"]
        _, again = run.sync()  # attached once, never twice
        assert len(run.query("Attachable")) == 4 and again.counts.get("attached", 0) == 0


def test_G2_the_pdf_served_by_ogustine_is_attached_to_the_qbo_invoice(tmp_path: Path, fake: FakeProduct) -> None:
    seen: list[str] = []
    with pack_run(profile(tmp_path), products={"product": with_pdfs(fake, seen)}, env=ENV) as run:
        rename_vendor(run)
        plan = run.plan()
        change = next(c for c in plan.changes if c.key == "F0001")
        assert change.attachments[0]["url"] == f"{ogustine.BASE_URL}/api/documents/F0001.pdf"
        _, report = run.sync()
        assert report.ok, report.failures
        invoice = by_number(run, "Invoice")["OGUSTINE_2025-05-01"]
        pdf = names(run, "Attachable", "FileName")["OGUSTINE_2025-05-01.pdf"]
        assert pdf["AttachableRef"][0]["EntityRef"]["value"] == invoice["Id"]
        assert run.sandbox.realm(run.realm).files[pdf["Id"]] == pdf_bytes("F0001.pdf")
        assert "/api/documents/F0001.pdf" in seen and "/api/documents/A0001.pdf" in seen


# -- G3 ------------------------------------------------------------------------------------------------------

def test_G3_before_the_first_sync_the_invoices_it_will_send_are_listed_and_nothing_is_written(run: PackRun) -> None:
    plan = run.plan()
    assert plan.first_sync
    invoices = {c.key: (c.action, c.label) for c in plan.changes if c.entity == "Invoice"}
    assert invoices == {"F0001": ("create", "OGUSTINE_2025-05-01"), "F0002": ("create", "OGUSTINE_2025-05-02"),
                        "F0003": ("skip", "")}
    text = render_text(plan, color=False)
    assert "First sync: 7 document(s) would be sent (nothing is written by a plan)." in text
    assert "+ create Invoice OGUSTINE_2025-05-01" in text
    assert "(invoices F0003): draft invoice: sent once validated in Ogustine" in text
    assert run.query("Invoice") == [] and run.query("CreditMemo") == []
    assert "Mme Durand" not in names(run, "Customer", "DisplayName")


# -- G4 ------------------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A sandbox over real HTTP, no fixed token: the CLI must be authorised by `passerelle connect`."""
    forget_limiters()
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),)))
    sandbox = sandbox_of(app)
    with serve(app) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
        monkeypatch.setenv("PASSERELLE_SECRET_KEY", Fernet.generate_key().decode())
        monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
        monkeypatch.delenv("PASSERELLE_QBO_REALM", raising=False)
        yield sandbox
    sandbox.close()
    forget_limiters()


def test_G4_connect_by_oauth_then_sync(served: Any) -> None:
    result = CliRunner().invoke(cli, ["sync", str(DEMO)])
    assert result.exit_code == 1  # not authorised yet: nothing is sent
    assert served.query(REALM, "SELECT * FROM Invoice").get("Invoice", []) == []
    code, text = cli_run("connect", str(DEMO), "--no-browser")
    assert code == 0, text
    code, text = cli_run("sync", str(DEMO))
    assert code == 0, text
    numbers = {row["DocNumber"] for row in served.query(REALM, "SELECT * FROM Invoice").get("Invoice", [])}
    assert numbers == {"OGUSTINE_2025-04-01", "OGUSTINE_2025-04-02", "OGUSTINE_2025-04-03"}


def test_G4_sync_before_connecting_says_to_connect(served: Any) -> None:
    code, text = cli_run("sync", str(DEMO))
    assert code == 1 and "passerelle connect" in text


# -- G5 ------------------------------------------------------------------------------------------------------

def test_G5_the_initial_sync_is_launched_explicitly_and_reports_its_progress_live(run: PackRun) -> None:
    plan = run.plan()  # the preview writes nothing: the sync starts only when the plan is applied
    assert run.query("Invoice") == []
    ticks: list[tuple[int, int, str, int]] = []

    def progress(done: int, total: int, label: str) -> None:
        ticks.append((done, total, label, len(run.query("Invoice"))))  # what QBO holds at that moment

    report = apply_plan(plan, run.session.target, run.store, progress=progress, writers=run.session.writers,
                        attacher=run.session.target, fetcher=run.session.fetcher)
    assert report.ok, report.failures
    assert [t[0] for t in ticks] == list(range(1, 8)) and {t[1] for t in ticks} == {7}
    labels = [t[2] for t in ticks]
    assert "Invoice OGUSTINE_2025-05-01" in labels and "CreditMemo OGUSTINE_AV2025-05-01" in labels
    before = next(t[3] for t in ticks if t[2] == "Item services S2")
    assert before == 0 and ticks[-1][3] == 2  # reported while invoices were still being written


def test_G5_the_cli_prints_a_progress_line_per_document(served: Any) -> None:
    assert cli_run("connect", str(DEMO), "--no-browser")[0] == 0
    code, text = cli_run("apply", str(DEMO), "--yes")
    assert code == 0, text
    assert "[1/10] Customer customers C101" in text and "[10/10] CreditMemo OGUSTINE_AV2025-04-01" in text


# -- G6 ------------------------------------------------------------------------------------------------------

def test_G6_without_vat_set_up_a_clear_message_and_retry_after_the_fix(run: PackRun) -> None:
    set_tax_codes_active(run, False)
    failed = blocking_failures(run.session)
    assert [f.name for f in failed] == ["vat_set_up"]
    assert "the VAT profile is not set up" in failed[0].message and "Set up VAT" in (failed[0].hint or "")
    with pytest.raises(PasserelleError) as stopped:
        stop_on_blocking_checks(run.session)  # what `passerelle sync` does first: nothing is sent
    assert stopped.value.errors[0].code == "E811" and run.query("Invoice") == []
    set_tax_codes_active(run, True)  # the user sets VAT up in QBO, then "Réessayer"
    new_run(run)
    assert blocking_failures(run.session) == []
    stop_on_blocking_checks(run.session)
    _, report = run.sync()
    assert report.ok and len(run.query("Invoice")) == 2


# -- G7 ------------------------------------------------------------------------------------------------------

def test_G7_document_numbers_follow_the_ogustine_format(run: PackRun) -> None:
    _, report = run.sync()
    assert report.ok, report.failures
    numbers = [*by_number(run, "Invoice"), *by_number(run, "CreditMemo")]
    assert sorted(numbers) == ["OGUSTINE_2025-05-01", "OGUSTINE_2025-05-02", "OGUSTINE_AV2025-05-01"]
    assert all(re.fullmatch(r"OGUSTINE_(AV)?\d{4}-\d{2}-\d{2}", n) and len(n) <= 21 for n in numbers)
    found = run.query("Invoice", "DocNumber = 'OGUSTINE_2025-05-02'")  # findable in QBO by its number
    assert len(found) == 1 and found[0]["PrivateNote"] == "Ogustine invoice 2025-05-02"


def test_G7_the_numbers_need_custom_transaction_numbers_on(run: PackRun) -> None:
    assert all(r.ok for r in run.checks() if r.name == "custom_numbers_on")
    set_preference(run, "SalesFormsPrefs", "CustomTxnNumbers", False)
    new_run(run)
    failed = blocking_failures(run.session)
    assert [f.name for f in failed] == ["custom_numbers_on"] and "OGUSTINE_ numbers would be lost" in failed[0].message


# -- G8 ------------------------------------------------------------------------------------------------------

def test_G8_after_the_initial_sync_an_invoice_is_sent_when_validated_and_not_before(
        run: PackRun, fake: FakeProduct) -> None:
    run.sync()
    assert "OGUSTINE_2025-05-03" not in by_number(run, "Invoice")  # still a draft
    plan, _ = run.sync()
    assert not plan.has_changes
    draft = next(r for r in fake.records["invoices"] if r["id"] == "F0003")
    draft.update(status="validated", updated_at="2025-05-20T08:00:00Z")  # validated in Ogustine
    fake.requests.clear()
    plan, report = run.sync()
    assert [(c.action, c.label) for c in plan.changes] == [("create", "OGUSTINE_2025-05-03")] and report.ok
    assert not plan.first_sync
    invoice = by_number(run, "Invoice")["OGUSTINE_2025-05-03"]
    assert str(invoice["TotalAmt"]) == "88.00"
    # the next run reads only what changed since the last one
    reads = [r.query for r in fake.requests if r.path == "/api/invoices"]
    assert reads and all(q.get("updated_since") == "2025-05-03T10:00:00Z" for q in reads)


def test_G8_a_cancelled_invoice_is_voided(run: PackRun, fake: FakeProduct) -> None:
    run.sync()
    fake.records["invoices"][0].update(status="cancelled", updated_at="2025-05-21T08:00:00Z")
    plan, report = run.sync()
    assert [(c.action, c.key) for c in plan.changes if c.action != "skip"] == [("void", "F0001")] and report.ok
    voided = by_number(run, "Invoice")["OGUSTINE_2025-05-01"]
    assert str(voided["TotalAmt"]) in ("0", "0.00")


# -- G9 ------------------------------------------------------------------------------------------------------

def sync_like_the_cli(run: PackRun) -> Any:
    """`passerelle sync`: plan, then apply only when there is something to write."""
    plan = run.plan()
    return plan, (run.apply(plan) if plan.has_changes else None)


def test_G9_automatic_sync_is_suspended_until_a_date_and_a_past_date_resumes_it(
        tmp_path: Path, fake: FakeProduct, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.db"
    monkeypatch.setenv("PASSERELLE_STATE", str(state))
    spec = profile(tmp_path, attach_pdf=False)
    with pack_run(spec, products={"product": fake}, env=ENV, store_path=state) as run:
        rename_vendor(run)
        code, text = cli_run("suspend", str(spec), "--until", "2999-01-01")
        assert code == 0 and "suspended until 2999-01-01" in text, text
        plan, _ = sync_like_the_cli(run)
        assert not plan.has_changes and run.query("Invoice") == []
        reasons = {c.key: c.reason for c in plan.changes}
        assert reasons["C1"] == reasons["S1"] == "automatic sync suspended until 2999-01-01"
        code, text = cli_run("suspend", str(spec), "--until", "2020-01-01")  # a past date
        assert code == 0 and "is past, automatic syncs are running" in text, text
        plan, report = sync_like_the_cli(run)
        assert report is not None and report.ok, report
        assert set(by_number(run, "Invoice")) == {"OGUSTINE_2025-05-01", "OGUSTINE_2025-05-02"}


def test_G9_a_suspended_run_lists_no_errors(run: PackRun) -> None:
    from engine.runtime import suspension
    suspension.suspend(run.store, run.session.profile, "2999-01-01")
    plan = run.plan()
    assert plan.count("error") == 0


# -- G10 / G11 / G12 -----------------------------------------------------------------------------------------

@pytest.fixture
def clashing(tmp_path: Path, fake: FakeProduct) -> Iterator[PackRun]:
    """The Lyon set-up on a company where SCI Les Tilleuls is already a vendor: QBO refuses the customer."""
    with pack_run(profile(tmp_path, attach_pdf=False), products={"product": fake}, env=ENV) as r:
        yield r


def test_G10_sync_errors_are_listed_with_what_to_fix(clashing: PackRun) -> None:
    _, report = clashing.sync()
    assert {(flow, key) for flow, key, _ in report.failures} == {
        ("customers", "C2"), ("invoices", "F0002"), ("credit_notes", "A0001")}
    assert set(by_number(clashing, "Invoice")) == {"OGUSTINE_2025-05-01"}  # the others went through
    history = {(e.flow, e.source_key): e for e in list_errors(clashing.store)}
    customer = history[("customers", "C2")]
    assert customer.status == "open" and CLASH in customer.message and "Another vendor" in customer.message
    assert "rename one of them, then resync" in (customer.hint or "")
    assert "customers C2 was not written" in history[("invoices", "F0002")].message


def test_G10_discounts_off_the_check_says_to_enable_them(run: PackRun) -> None:
    set_preference(run, "SalesFormsPrefs", "AllowDiscount", False)
    new_run(run)
    result = next(r for r in run.checks() if r.name == "discounts_enabled")
    assert not result.ok and not result.blocking
    assert "Enable discounts in QuickBooks settings" in (result.hint or "")


def test_G10_an_invoice_with_a_discount_refused_by_qbo_says_enable_discounts(run: PackRun, fake: FakeProduct) -> None:
    fake.records["invoices"][1]["discount_ht"] = "25.00"
    set_preference(run, "SalesFormsPrefs", "AllowDiscount", False)
    run.sync()
    error = next(e for e in list_errors(run.store) if e.source_key == "F0002")
    assert error.code == "6000" and "Discounts are turned off" in (error.message or "")
    assert (error.hint or "").startswith("Enable discounts in QuickBooks settings")
    assert not [e for e in list_errors(run.store) if e.source_key != "F0002"]  # invoices without a discount go


def resync(run: PackRun, error_id: int) -> None:
    """What `passerelle errors resync ID` does (engine/cli/history.py): mark it, then a manual sync of that record."""
    row = next(e for e in list_errors(run.store) if e.id == error_id)
    set_error_status(run.store, error_id, "resynced")
    run.sync(record=row.source_key)


def test_G11_resync_this_item_retries_one_failed_document_after_the_fix(clashing: PackRun) -> None:
    clashing.sync()
    errors = {(e.flow, e.source_key): e for e in list_errors(clashing.store)}
    rename_vendor(clashing)  # the fix, in QBO
    resync(clashing, errors[("customers", "C2")].id)
    assert "SCI Les Tilleuls" in names(clashing, "Customer", "DisplayName")
    assert set(by_number(clashing, "Invoice")) == {"OGUSTINE_2025-05-01"}  # only that item was retried
    status = {e.source_key: e.status for e in list_errors(clashing.store)}
    assert status == {"C2": "resolved", "F0002": "open", "A0001": "open"}


def test_G11_resyncing_one_item_leaves_the_other_failed_items_retryable(clashing: PackRun) -> None:
    clashing.sync()
    errors = {(e.flow, e.source_key): e for e in list_errors(clashing.store)}
    rename_vendor(clashing)
    resync(clashing, errors[("customers", "C2")].id)
    resync(clashing, errors[("invoices", "F0002")].id)
    assert set(by_number(clashing, "Invoice")) == {"OGUSTINE_2025-05-01", "OGUSTINE_2025-05-02"}


def test_G11_a_new_full_run_retries_all_failed_documents(clashing: PackRun) -> None:
    clashing.sync()
    rename_vendor(clashing)
    plan, report = clashing.sync()
    assert report.ok, report.failures
    assert {c.key for c in plan.changes if c.action == "create"} == {"C2", "F0002", "A0001"}
    assert set(by_number(clashing, "CreditMemo")) == {"OGUSTINE_AV2025-05-01"}
    assert all(e.status == "resolved" for e in list_errors(clashing.store))


def test_G11_errors_resync_command_over_the_cli(served: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("invoices", "credit_notes", "services"):
        (data / f"{name}.json").write_text((PACK / f"data/{name}.json").read_text(encoding="utf-8"), encoding="utf-8")
    customers = (PACK / "data/customers.json").read_text(encoding="utf-8")
    (data / "customers.json").write_text(customers.replace("Résidence Les Acacias", "SCI Les Tilleuls"), encoding="utf-8")
    spec = tmp_path / "cli.yaml"
    spec.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: ogustine-cli}}\npack: {PACK}\n"
                    "settings: {start_date: \"2025-01-01\", attach_pdf: false}\nconnections:\n  product:\n"
                    "    connector: file\n    resources:\n" + "".join(
                        f"      {n}: {{path: data/{n}.json}}\n" for n in ("invoices", "credit_notes", "customers",
                                                                           "services")), encoding="utf-8")
    assert cli_run("connect", str(spec), "--no-browser")[0] == 0
    code, text = cli_run("sync", str(spec))
    assert code == 1 and "C103" in text
    code, text = cli_run("errors", "list", str(spec))
    error_id = re.search(r"#(\d+) \[open\] \S+ run \d+ ogustine/ogustine-cli customers C103", text)  # time, run
    assert error_id and "fix: match the existing record" in text, text
    vendor = next(v for v in served.query(REALM, "SELECT * FROM Vendor")["Vendor"] if v["DisplayName"] == "SCI Les Tilleuls")
    served.write(REALM, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                   "DisplayName": "SCI Les Tilleuls (bailleur)"})
    code, text = cli_run("errors", "resync", error_id.group(1), "--profile", str(spec))
    assert code == 0, text
    code, text = cli_run("errors", "list", str(spec))
    assert f"#{error_id.group(1)} [resolved]" in text, text


def test_G12_resolved_errors_stay_in_the_history_shown_as_resolved(clashing: PackRun) -> None:
    clashing.sync()
    rename_vendor(clashing)
    clashing.sync()
    history = list_errors(clashing.store)
    assert len(history) == 3
    assert all(e.status == "resolved" and e.resolved_at is not None for e in history)
    assert CLASH in next(e.message for e in history if e.source_key == "C2")  # what went wrong is kept
