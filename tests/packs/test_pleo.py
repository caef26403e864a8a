"""The Pleo pack end to end: the real runtime against the in-process QBO sandbox (French company) and
the Pleo API fake, checking what QuickBooks then holds and what was written to Pleo (P1-P8)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, create_app, sandbox_of, serve
from engine.cli.main import cli
from engine.errors import Loc, PasserelleError, RuleError
from engine.runtime.checks import blocking_failures, fix_check, prepare_fix
from tests.fakes.product import FakeProduct
from tests.fakes.server import serve_app
from tests.fakes.specs import pleo
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules/pleo"
LUMIERE = PACK / "customers/atelier-lumiere.yaml"
NOEL = PACK / "customers/cabinet-noel.yaml"
DEMO = PACK / "customers/demo.yaml"
LUMIERE_ENV = {"LUMIERE_PLEO_TOKEN": pleo.TOKEN}
NOEL_ENV = {"NOEL_PLEO_TOKEN": pleo.TOKEN}
# The receipt storage fake is served on loopback, which attachments may reach only when a test says so.
LOOPBACK = ("127.0.0.1",)
# The studio's own expense accounts the Pleo fake's categories are booked to (not in the preset chart).
OWN_ACCOUNTS = (("Voyages et déplacements", "625100"), ("Réceptions", "625700"))


def _expenses(**changes: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The fake's expenses, with some fields replaced per expense id."""
    out = []
    for expense in pleo.EXPENSES:
        record = copy.deepcopy(expense)
        record.update(copy.deepcopy(dict(changes.get(str(record["id"]).replace("-", "_"), {}))))
        out.append(record)
    return tuple(out)


@contextmanager
def _run(profile: Path = LUMIERE, env: Mapping[str, str] = LUMIERE_ENV, *, fake: FakeProduct | None = None,
         fix: bool = True, storage: bool = True) -> Iterator[PackRun]:
    """A sandbox company with the studio's own accounts, the Pleo fake with its receipt storage served on
    loopback HTTP (the runtime has no in-process transport for it), and (by default) the checks fixed."""
    fake = fake or FakeProduct(pleo.spec())
    with ExitStack() as stack:
        if storage:
            _receipts_at(fake, stack.enter_context(serve_app(pleo.receipt_storage())))
        run = stack.enter_context(pack_run(profile, products={"pleo": fake}, env=env, private_hosts=LOOPBACK))
        for name, number in OWN_ACCOUNTS:
            run.sandbox.write(run.realm, "Account", {"Name": name, "AcctNum": number, "AccountType": "Expense",
                                                     "AccountSubType": "TravelMeals"}, "create")
        if fix:
            for check in run.session.loaded.compiled.checks:
                result = fix_check(run.session.loaded.compiled, run.session.target, check)
                assert result is None or result.ok, result
        yield run


def _purchases(run: PackRun) -> dict[str, dict[str, Any]]:
    """QBO expenses by the Pleo expense id written in their memo."""
    return {str(p["PrivateNote"]).split()[1]: p for p in run.query("Purchase")}


def _details(purchase: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [line["AccountBasedExpenseLineDetail"] for line in purchase["Line"]]


def _account(run: PackRun, ref: Mapping[str, Any]) -> dict[str, Any]:
    return run.sandbox.read(run.realm, "Account", str(ref["value"]))


def _receipts_at(fake: FakeProduct, base: str) -> None:
    """Point the fake's receipt URLs at a storage served on ``base``."""
    for expense in fake.records["expenses"]:
        for receipt in expense["receipts"]:
            receipt["url"] = base + "/r/" + receipt["url"].rsplit("/", 1)[1]


def _sync_ok(run: PackRun) -> None:
    _, report = run.sync()
    assert report.ok, report.failures
    assert not run.plan().has_changes


# -- P1 --------------------------------------------------------------------------------------------------------

def test_P1_check_fix_creates_the_banque_pleo_account_once_and_blocks_syncs_until_then() -> None:
    with _run(fix=False) as run:
        pack = run.session.loaded.compiled
        failing = {r.name: r for r in blocking_failures(run.session)}
        assert set(failing) == {"pleo_bank_account_exists", "pocket_account_exists", "setting:pleo_account",
                                "setting:pocket_account"}
        assert "no bank account named Banque Pleo" in failing["pleo_bank_account_exists"].message
        assert failing["pleo_bank_account_exists"].fixable
        assert fix_check(pack, run.session.target, "pleo_bank_account_exists").ok  # type: ignore[union-attr]
        assert fix_check(pack, run.session.target, "pleo_bank_account_exists").ok  # type: ignore[union-attr]
        banks = [a for a in run.query("Account", "AccountType = 'Bank'") if a["Name"] == "Banque Pleo"]
        assert len(banks) == 1, "a second --fix must not create a second account"
        assert banks[0]["AcctNum"] == "512300" and banks[0]["AcctNum"].startswith("512")
        assert {r.name for r in blocking_failures(run.session)} == {"pocket_account_exists", "setting:pocket_account"}


def test_P1_P2_the_cli_check_fix_creates_the_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`passerelle check --fix --yes` is the command offered to the customer (exit 1 before, 0 after)."""
    _with_cli_sandbox(tmp_path, monkeypatch, connect=False)


# -- P2 --------------------------------------------------------------------------------------------------------

def _with_cli_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, connect: bool) -> list[dict[str, Any]]:
    forget_limiters()
    realm = DEFAULT_REALM_IDS["fr"]
    app = create_app(SandboxConfig(realms=(RealmSpec(realm, "fr"),)))
    sandbox = sandbox_of(app)
    runner = CliRunner()
    try:
        with serve(app) as base_url:
            monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
            monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
            monkeypatch.setenv("PASSERELLE_SECRET_KEY", Fernet.generate_key().decode())
            if connect:
                monkeypatch.delenv("PASSERELLE_QBO_ACCESS_TOKEN", raising=False)
                monkeypatch.delenv("PASSERELLE_QBO_REALM", raising=False)
                connected = runner.invoke(cli, ["connect", str(DEMO), "--no-browser"])
                assert connected.exit_code == 0, connected.output
            else:
                monkeypatch.setenv("PASSERELLE_QBO_ACCESS_TOKEN", sandbox.issue_token(realm).access_token)
                monkeypatch.setenv("PASSERELLE_QBO_REALM", realm)
            before = runner.invoke(cli, ["check", str(DEMO)])
            assert before.exit_code == 1 and "Banque Pleo" in before.output and "--fix" in before.output, before.output
            refused = runner.invoke(cli, ["sync", str(DEMO)])
            assert refused.exit_code != 0 and "E811" in refused.output, refused.output
            fixed = runner.invoke(cli, ["check", str(DEMO), "--fix", "--yes"])
            assert fixed.exit_code == 0, fixed.output
            synced = runner.invoke(cli, ["sync", str(DEMO)])
            assert synced.exit_code == 0, synced.output
            purchases = list(sandbox.query(realm, "SELECT * FROM Purchase").get("Purchase", []))
            accounts = list(sandbox.query(realm, "SELECT * FROM Account MAXRESULTS 1000").get("Account", []))
    finally:
        sandbox.close()
        forget_limiters()
    pleo_bank = next(a for a in accounts if a["Name"] == "Banque Pleo")
    assert pleo_bank["AccountType"] == "Bank" and pleo_bank["AcctNum"] == "512300"
    return [dict(p, _accounts=accounts) for p in purchases]


def test_P2_connect_by_oauth_then_the_account_picked_in_the_settings_pays_the_expenses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pack_run(DEMO) as run:  # what the settings page offers: the setting's choices, read from QBO
        pack = run.session.loaded.pack
        choice = pack.settings["pleo_account"].choices_from
        assert choice is not None and choice["entity"] == "Account" and dict(choice["where"]) == {"AccountType": "Bank"}
    purchases = _with_cli_sandbox(tmp_path, monkeypatch, connect=True)  # `passerelle connect`: OAuth 2.0
    accounts = purchases[0]["_accounts"]
    offered = sorted(a[choice.get("value", "Id")] for a in accounts
                     if all(a.get(k) == v for k, v in choice["where"].items()))
    assert offered == ["Banque Pleo", "Banque principale", "Banque secondaire", "Pleo Pocket"]
    card = [p for p in purchases if "exp-101" in p["PrivateNote"] or "exp-102" in p["PrivateNote"]]
    assert len(card) == 2 and {p["AccountRef"]["name"] for p in card} == {"Banque Pleo"}


def test_P2_an_account_picked_that_qbo_does_not_have_stops_the_sync() -> None:
    with _run(NOEL, NOEL_ENV, fix=False) as run:
        failing = {r.name: r.message for r in blocking_failures(run.session)}
        assert failing == {
            "pleo_bank_account_exists": "QuickBooks has no bank account named Compte Pleo Qonto for Pleo spending.",
            "setting:pleo_account": "'Compte Pleo Qonto' is not one of the Account records QuickBooks offers for "
                                    "pleo_account: Banque principale, Banque secondaire"}


# -- P3 --------------------------------------------------------------------------------------------------------

def test_P3_qbo_expense_accounts_become_the_pleo_categories_and_follow_the_chart() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        _sync_ok(run)
        published = {c["externalId"]: c for c in fake.records["categories"] if "externalId" in c}
        numbers = {c["accountNumber"] for c in published.values()}
        assert {"606400", "626000", "613200", "625100", "625700", "607000"} <= numbers
        assert not numbers & {"512000", "512300", "706000", "411000"}  # no bank, income or customer account
        assert published["10"]["name"] == "Fournitures administratives"
        created = run.sandbox.write(run.realm, "Account", {"Name": "Logiciels", "AcctNum": "651000",
                                                           "AccountType": "Expense", "AccountSubType": "Software"},
                                    "create")
        renamed = run.sandbox.read(run.realm, "Account", "11")
        run.sandbox.write(run.realm, "Account", {**renamed, "Name": "Loyers"}, "update")
        before = len(fake.writes)
        _sync_ok(run)
        writes = [(w.method, w.path, w.body.get("accountNumber")) for w in fake.writes[before:]]
        pleo_id = next(c["id"] for c in fake.records["categories"] if c.get("externalId") == "11")
        assert ("POST", "/v1/accounting-categories", "651000") in writes and created["Id"]
        assert ("PUT", f"/v1/accounting-categories/{pleo_id}", "613200") in writes
        rent = next(c for c in fake.records["categories"] if c.get("externalId") == "11")
        assert rent["accountName"] == "Loyers" and rent["accountNumber"] == "613200"  # the QBO side follows
        assert rent["name"] == "Locations immobilières"  # the category keeps the name it was created with
        assert next(c for c in fake.records["categories"] if c.get("externalId") == created["Id"])["name"] == "Logiciels"
        travel = _purchases(run)["exp-001"]
        assert _account(run, _details(travel)[0]["AccountRef"])["AcctNum"] == "625100"


def test_P3_named_accounts_when_the_company_uses_no_account_numbers() -> None:
    named = _expenses(exp_001={"lines": [{"id": "exp-001-1", "amount": {"value": 42.5},
                                          "category": {"id": "9003", "name": "Office",
                                                       "accountNumber": "Fournitures administratives"},
                                          "tax": {"code": "32", "rate": 10}}]})
    fake = FakeProduct(pleo.spec(expenses=named))
    with _run(NOEL, NOEL_ENV, fake=fake) as run:
        _, report = run.sync()
        published = [c for c in fake.records["categories"] if "externalId" in c]
        assert published and all(c["accountNumber"] == c["name"] for c in published)
        # categories still naming accounts by number find nothing in a company matched by name
        assert [(k, m.split(": ", 1)[1]) for _, k, m in report.failures] == [
            ("exp-003", "no Account with Name = '606400' in the QBO company"),
            ("exp-004", "no Account with Name = '625100' in the QBO company")]
        detail = _details(_purchases(run)["exp-001"])[0]
        assert detail["AccountRef"]["name"] == "Fournitures administratives"


def test_P3_a_category_name_given_in_pleo_is_never_overwritten_by_the_qbo_account_name() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        _sync_ok(run)
        supplies = next(c for c in fake.records["categories"] if c.get("externalId") == "10")
        assert supplies["name"] == "Fournitures administratives"  # created with the QBO account's name
        supplies["name"] = "Papeterie et petit matériel"  # the company names it for its employees, in Pleo
        account = run.sandbox.read(run.realm, "Account", "10")
        run.sandbox.write(run.realm, "Account", {**account, "Name": "Fournitures de bureau"}, "update")
        before = len(fake.writes)
        _sync_ok(run)
        sent = [w.body for w in fake.writes[before:] if w.path == f"/v1/accounting-categories/{supplies['id']}"]
        assert sent and all("name" not in body for body in sent), sent
        assert sent[-1]["accountName"] == "Fournitures de bureau" and sent[-1]["accountNumber"] == "606400"
        assert supplies["name"] == "Papeterie et petit matériel" and supplies["accountName"] == "Fournitures de bureau"
        before = len(fake.writes)
        _sync_ok(run)  # and nothing more is sent while QBO does not change
        assert fake.writes[before:] == []


# -- P4 --------------------------------------------------------------------------------------------------------

def test_P4_qbo_classes_and_projects_become_pleo_tags_and_tagged_expenses_carry_them() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        project = run.sandbox.write(run.realm, "Customer", {"DisplayName": "Refonte site Studio Moreau",
                                                            "IsProject": True, "Job": True,
                                                            "ParentRef": {"value": "55"}}, "create")
        run.sync()
        tags = {(t["name"], t.get("group"), t.get("code")) for t in fake.records["tags"]}
        assert {("Conseil", "class", "41"), ("Formation", "class", "42"),
                ("Refonte site Studio Moreau", "project", project["Id"])} <= tags
        assert not any(t[0] == "Studio Moreau" for t in tags)  # a plain customer is not a project
        # the employee tags an expense in Pleo with the published tags
        tagged = [{"id": t["id"], "name": t["name"], "code": t["code"], "group": t["group"]}
                  for t in fake.records["tags"] if t["name"] in ("Formation", "Refonte site Studio Moreau")]
        expense = next(e for e in fake.records["expenses"] if e["id"] == "exp-003")
        expense.update(tags=tagged, updatedAt="2025-03-01T09:00:00Z")
        _, report = run.sync()
        assert report.ok, report.failures
        details = _details(_purchases(run)["exp-003"])
        assert [d["ClassRef"]["name"] for d in details] == ["Formation", "Formation"]
        assert [d["CustomerRef"]["value"] for d in details] == [project["Id"]] * 2
        assert "ClassRef" not in _details(_purchases(run)["exp-001"])[0]


def test_P4_the_tags_are_the_qbo_classes_read_live_not_a_list_of_the_pack() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        _sync_ok(run)
        classes = {c["Id"]: c["Name"] for c in run.query("Class")}
        published = {t["code"]: t["name"] for t in fake.records["tags"] if t.get("group") == "class"}
        assert published == classes and classes  # every QBO class, by its QBO id
        added = run.sandbox.write(run.realm, "Class", {"Name": "Événementiel"}, "create")
        formation = run.sandbox.read(run.realm, "Class", "42")
        run.sandbox.write(run.realm, "Class", {**formation, "Name": "Formation continue"}, "update")
        _sync_ok(run)
        published = {t["code"]: t["name"] for t in fake.records["tags"] if t.get("group") == "class"}
        assert published == {**classes, added["Id"]: "Événementiel", "42": "Formation continue"}
        # an expense tagged in Pleo with the new class books it
        tag = next(t for t in fake.records["tags"] if t.get("code") == added["Id"])
        expense = next(e for e in fake.records["expenses"] if e["id"] == "exp-001")
        expense.update(tags=[{k: tag[k] for k in ("id", "name", "code", "group")}], updatedAt="2025-03-01T09:00:00Z")
        _sync_ok(run)
        assert _details(_purchases(run)["exp-001"])[0]["ClassRef"]["value"] == added["Id"]


def test_P4_a_tag_made_in_pleo_maps_to_a_class_by_the_profile_table() -> None:
    own = _expenses(exp_004={"tags": [{"id": "tag-7", "name": "Atelier", "code": "AT", "group": None}]})
    with _run(fake=FakeProduct(pleo.spec(expenses=own))) as run:
        _sync_ok(run)
        assert _details(_purchases(run)["exp-004"])[0]["ClassRef"]["name"] == "Conseil"


# -- P5 --------------------------------------------------------------------------------------------------------

def test_P5_an_exported_expense_becomes_a_purchase_from_the_pleo_account_with_one_line_per_category() -> None:
    pending = _expenses(exp_004={"status": "pending"})
    fake = FakeProduct(pleo.spec(expenses=pending))
    with _run(fake=fake) as run:
        plan = run.plan()
        skipped = {c.key: c.reason for c in plan.changes if c.flow == "expenses" and c.action == "skip"}
        assert skipped == {"exp-004": "status pending is not exported"}
        report = run.apply(plan)
        assert report.ok, report.failures
        purchases = _purchases(run)
        assert sorted(purchases) == ["exp-001", "exp-002", "exp-003", "exp-005"]
        split = purchases["exp-003"]
        assert split["PaymentType"] == "Cash" and split["AccountRef"]["name"] == "Banque Pleo"
        assert _account(run, split["AccountRef"])["AccountType"] == "Bank"
        assert run.sandbox.read(run.realm, "Vendor", split["EntityRef"]["value"])["DisplayName"] == "Fnac"
        assert split["EntityRef"]["type"] == "Vendor" and split["TxnDate"] == "2025-02-03"
        assert [(_account(run, d["AccountRef"])["AcctNum"], d["TaxInclusiveAmt"]) for d in _details(split)] == [
            ("606400", "89"), ("625100", "40")]
        assert {k: Decimal(str(p["TotalAmt"])) for k, p in purchases.items()} == {
            "exp-001": Decimal("42.50"), "exp-002": Decimal("18.90"), "exp-003": Decimal("129.00"),
            "exp-005": Decimal("64.00")}
        assert not run.plan().has_changes


def test_P5_an_expense_edited_in_pleo_updates_its_qbo_expense() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        _sync_ok(run)
        expense = next(e for e in fake.records["expenses"] if e["id"] == "exp-001")
        expense["lines"][0]["category"] = dict(pleo.CATEGORIES[1])  # re-categorised as a meal
        expense["updatedAt"] = "2025-03-02T10:00:00Z"
        plan = run.plan()
        assert [(c.action, c.key) for c in plan.changes if c.flow == "expenses"] == [("update", "exp-001")]
        assert run.apply(plan).ok
        assert _account(run, _details(_purchases(run)["exp-001"])[0]["AccountRef"])["AcctNum"] == "625700"
        assert len(run.query("Purchase")) == 5
        assert len(run.query("Attachable")) == 5  # the receipt is not uploaded a second time on update


# -- P6 --------------------------------------------------------------------------------------------------------

def test_P6_each_receipt_is_attached_to_its_qbo_expense_once() -> None:
    fake = FakeProduct(pleo.spec())
    storage = pleo.receipt_storage()
    with serve_app(storage) as base, _run(fake=fake, storage=False) as run:
        _receipts_at(fake, base)
        _sync_ok(run)
        purchases = _purchases(run)
        attachables = run.query("Attachable")
        linked = {a["AttachableRef"][0]["EntityRef"]["value"]: a for a in attachables}
        assert len(attachables) == 5 and set(linked) == {p["Id"] for p in purchases.values()}
        receipt = linked[purchases["exp-003"]["Id"]]
        assert receipt["FileName"] == "receipt-exp-003.pdf" and receipt["ContentType"] == "application/pdf"
        assert receipt["AttachableRef"][0]["EntityRef"]["type"] == "Purchase"
        assert run.sandbox.realm(run.realm).files[receipt["Id"]] == pleo.receipt_bytes("rcp-003")
        _sync_ok(run)
        assert len(run.query("Attachable")) == 5 and sorted(storage.state.served) == [
            f"rcp-00{n}.pdf" for n in range(1, 6)]


def test_P6_a_receipt_served_by_the_pleo_api_itself_is_fetched_through_the_pleo_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.fetch

    def offline(self: Any, url: str) -> bytes:  # the public-download path would go to the internet: refuse it
        raise PasserelleError([RuleError("E905", f"no in-process transport for {url}", Loc("test"))])

    monkeypatch.setattr(connectors.fetch.FileFetcher, "_http", offline)
    files = {f"/v3/receipts/rcp-00{n}.pdf": pleo.receipt_bytes(f"rcp-00{n}") for n in range(1, 6)}
    fake = FakeProduct(pleo.spec(files=files))  # served behind the API's bearer token, like its lists
    for expense in fake.records["expenses"]:  # receipts under the API's own host
        for receipt in expense["receipts"]:
            receipt["url"] = f"https://external.pleo.io/v3/receipts/{receipt['id']}.pdf"
    with _run(fake=fake, storage=False) as run:
        _, report = run.sync()
        assert report.ok, report.failures
        purchases = _purchases(run)
        linked = {a["AttachableRef"][0]["EntityRef"]["value"]: a for a in run.query("Attachable")}
        assert set(linked) == {p["Id"] for p in purchases.values()}
        receipt = linked[purchases["exp-003"]["Id"]]
        assert run.sandbox.realm(run.realm).files[receipt["Id"]] == pleo.receipt_bytes("rcp-003")
        assert sorted(r.path for r in fake.requests if r.path.startswith("/v3/receipts/")) == sorted(files)


# -- P7 --------------------------------------------------------------------------------------------------------

def test_P7_only_active_qbo_vat_codes_are_offered_and_each_line_carries_the_code_of_its_rate() -> None:
    fake = FakeProduct(pleo.spec(expenses=_expenses(exp_004={"lines": [{
        "id": "exp-004-1", "amount": {"value": 7.2}, "category": dict(pleo.CATEGORIES[0]),
        "tax": {"code": "34", "rate": 2.1}}]})))
    with _run(fake=fake) as run:
        run.sandbox.realm(run.realm).table("TaxCode")["34"]["Active"] = False  # TVA 2,1 % switched off in QBO
        _, report = run.sync()
        offered = {(t["name"], Decimal(str(t["rate"])), t["code"]) for t in fake.records["tax_codes"]}
        assert offered == {("TVA 20 %", Decimal(20), "31"), ("TVA 10 %", Decimal(10), "32"),
                           ("TVA 5,5 %", Decimal("5.5"), "33"), ("TVA 0 % (exonéré)", Decimal(0), "35")}
        purchases = _purchases(run)
        assert [d["TaxCodeRef"]["value"] for d in _details(purchases["exp-003"])] == ["31", "32"]
        assert [d["TaxCodeRef"]["name"] for d in _details(purchases["exp-001"])] == ["TVA 10 %"]
        tax = purchases["exp-003"]["TxnTaxDetail"]
        assert Decimal(str(tax["TotalTax"])) == Decimal("18.47")  # 14.83 at 20 % + 3.64 at 10 %
        assert "exp-004" not in purchases  # a line at an inactive rate is refused, never booked without VAT
        assert [k for _, k, _ in report.failures] == ["exp-004"]
        assert "inactive" in report.failures[0][2]


def test_P7_vat_rates_reach_pleo_as_json_numbers() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        run.sync()
        rates = [w.body["rate"] for w in fake.writes if w.path == "/v1/tax-codes"]
        assert rates and all(isinstance(rate, (int, float)) for rate in rates), rates


def _fresh_reads(run: PackRun) -> None:
    """The next sync reads QBO's reference data again, as a new `passerelle sync` process does."""
    run.session.target.client._reference = None


def test_P7_a_vat_code_switched_off_in_qbo_after_publishing_is_archived_and_rates_follow_qbo_tax_rates() -> None:
    fake = FakeProduct(pleo.spec())
    with _run(fake=fake) as run:
        _sync_ok(run)
        codes = {t["code"]: t for t in fake.records["tax_codes"]}
        assert {c: (t["name"], t["rate"], t["archived"]) for c, t in codes.items()} == {
            "31": ("TVA 20 %", 20, False), "32": ("TVA 10 %", 10, False), "33": ("TVA 5,5 %", 5.5, False),
            "34": ("TVA 2,1 %", 2.1, False), "35": ("TVA 0 % (exonéré)", 0, False)}
        realm = run.sandbox.realm(run.realm)
        realm.table("TaxCode")["33"]["Active"] = False  # TVA 5,5 % switched off in QBO (VAT > Edit VAT)
        realm.table("TaxRate")["24"]["RateValue"] = Decimal("9.5")  # the purchase rate of TVA 10 % changes
        _fresh_reads(run)
        before = len(fake.writes)
        _, report = run.sync()
        assert report.ok, report.failures
        sent = {w.path.rsplit("/", 1)[1]: w.body for w in fake.writes[before:]}
        archived, changed = str(codes["33"]["id"]), str(codes["32"]["id"])
        assert sent == {archived: {"archived": True},
                        changed: {"name": "TVA 10 %", "rate": 9.5, "code": "32", "archived": False}}
        assert isinstance(sent[changed]["rate"], float)  # a JSON number, not "9.5"
        assert codes["33"]["archived"] is True and codes["33"]["name"] == "TVA 5,5 %"  # archived, not removed
        assert codes["32"]["rate"] == 9.5 and not codes["31"]["archived"]
        assert not run.plan().has_changes  # archived once
        realm.table("TaxCode")["33"]["Active"] = True  # switched on again: offered again
        _sync_ok(run)
        assert codes["33"]["archived"] is False


# -- P8 --------------------------------------------------------------------------------------------------------

def test_P8_pocket_expenses_are_paid_from_the_separately_configured_pocket_account() -> None:
    with _run() as run:
        _sync_ok(run)
        purchases = _purchases(run)
        accounts = {k: p["AccountRef"]["name"] for k, p in purchases.items()}
        assert accounts == {"exp-001": "Banque Pleo", "exp-002": "Pleo Pocket - notes de frais",
                            "exp-003": "Banque Pleo", "exp-004": "Banque Pleo",
                            "exp-005": "Pleo Pocket - notes de frais"}
        pocket = _account(run, purchases["exp-002"]["AccountRef"])
        assert pocket["AccountType"] == "Bank" and pocket["AcctNum"] == "512400"


def test_P8_without_a_pocket_account_pocket_expenses_stay_in_pleo() -> None:
    noel = _expenses(**{f"exp_00{n}": {"lines": [{"id": f"exp-00{n}-1", "amount": {"value": 10},
                                                  "category": {"id": "c", "name": "Office",
                                                               "accountNumber": "Fournitures administratives"},
                                                  "tax": {"code": "31", "rate": 20}}]} for n in range(1, 6)})
    with _run(NOEL, NOEL_ENV, fake=FakeProduct(pleo.spec(expenses=noel))) as run:
        plan, report = run.sync()
        assert report.ok, report.failures
        skipped = {c.key: c.reason for c in plan.changes if c.flow == "expenses" and c.action == "skip"}
        assert set(skipped) == {"exp-002", "exp-005"} and "no Pocket account" in skipped["exp-002"]
        purchases = _purchases(run)
        assert sorted(purchases) == ["exp-001", "exp-003", "exp-004"]
        assert {p["AccountRef"]["name"] for p in purchases.values()} == {"Compte Pleo Qonto"}
        assert all("Amount" in line for line in purchases["exp-001"]["Line"])
        assert Decimal(str(purchases["exp-001"]["Line"][0]["Amount"])) == Decimal("8.33")  # sent excluding VAT


# -- seed behaviours without an id ----------------------------------------------------------------------------

def test_pleo_pocket_account_by_number_is_how_the_pocket_account_is_entered_and_found() -> None:
    with _run(fix=False) as run:
        pack = run.session.loaded.compiled
        assert pack.settings["pocket_account"] == "512400"  # the profile enters the number, as Pleo asks
        failing = {r.name: r.message for r in blocking_failures(run.session)}
        assert failing["pocket_account_exists"] == ("QuickBooks has no bank account numbered 512400 for Pleo "
                                                    "Pocket expenses.")
        for check in pack.checks:
            fix_check(pack, run.session.target, check)
        assert blocking_failures(run.session) == []
        pocket = next(a for a in run.query("Account", "AccountType = 'Bank'") if a.get("AcctNum") == "512400")
        assert pocket["Name"] == "Pleo Pocket - notes de frais"  # pocket_account_name, given when --fix creates it
        run.sandbox.write(run.realm, "Account", {**pocket, "Name": "Notes de frais Pocket"}, "update")
        _fresh_reads(run)  # renamed in QBO: the number still finds it
        assert blocking_failures(run.session) == []
        _sync_ok(run)
        purchases = _purchases(run)
        assert {k for k, p in purchases.items() if p["AccountRef"]["value"] == pocket["Id"]} == {"exp-002", "exp-005"}
        assert purchases["exp-002"]["AccountRef"]["name"] == "Notes de frais Pocket"


def test_P2_a_choice_qbo_does_not_offer_fails_check_and_stops_sync_with_the_list(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bank account picked (a `choices_from` setting) is checked against the accounts QBO offers by
    `passerelle check`, before every sync and by `passerelle config choices`, each with the list to pick from."""
    profile = tmp_path / "wrong.yaml"
    profile.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: wrong}}\npack: {PACK}\nsettings:\n"
                       "  publish_lists: false\n  pleo_account: Compte Qonto\n", encoding="utf-8")
    monkeypatch.setenv("WRONG_PLEO_TOKEN", pleo.TOKEN)
    forget_limiters()
    realm = DEFAULT_REALM_IDS["fr"]
    app = create_app(SandboxConfig(realms=(RealmSpec(realm, "fr"),)))
    sandbox = sandbox_of(app)
    runner = CliRunner()
    try:
        with serve(app) as base_url:
            monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
            monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
            monkeypatch.setenv("PASSERELLE_SECRET_KEY", Fernet.generate_key().decode())
            monkeypatch.setenv("PASSERELLE_QBO_ACCESS_TOKEN", sandbox.issue_token(realm).access_token)
            monkeypatch.setenv("PASSERELLE_QBO_REALM", realm)
            offered = "Banque principale, Banque secondaire"
            checked = runner.invoke(cli, ["check", str(profile)])
            assert checked.exit_code == 1, checked.output
            assert f"setting:pleo_account: 'Compte Qonto' is not one of the Account records QuickBooks offers for " \
                   f"pleo_account: {offered}" in checked.output
            assert f"{profile}:7:" in checked.output  # the hint says where the value was set
            synced = runner.invoke(cli, ["sync", str(profile)])
            assert synced.exit_code == 1 and "E811" in synced.output and offered in synced.output, synced.output
            assert not sandbox.query(realm, "SELECT * FROM Purchase").get("Purchase")
            choices = runner.invoke(cli, ["config", "choices", str(profile), "pleo_account"])
            assert choices.exit_code == 1 and "E820" in choices.output and f"{profile}:7:" in choices.output
            sandbox.write(realm, "Account", {"Name": "Compte Qonto", "AccountType": "Bank", "AcctNum": "512700"})
            checked = runner.invoke(cli, ["check", str(profile)])
            assert checked.exit_code == 0 and "✓ setting:pleo_account" in checked.output, checked.output
            choices = runner.invoke(cli, ["config", "choices", str(profile), "pleo_account"])
            assert choices.exit_code == 0 and "* Compte Qonto" in choices.output, choices.output
    finally:
        sandbox.close()
        forget_limiters()


def test_pleo_journal_code_is_chosen_in_quickbooks_as_the_check_tells_when_the_account_is_created() -> None:
    """Pleo's help page: create "Banque Pleo" 512 and choose a journal code. QBO's API sets no journal code on an
    account, so the fix creates the account with what the API takes and the hint asks for the journal code."""
    with _run(fix=False) as run:
        pack = run.session.loaded.compiled
        failing = {r.name: r for r in blocking_failures(run.session)}["pleo_bank_account_exists"]
        assert failing.hint is not None and failing.hint.count("journal code") == 2 and "--fix" in failing.hint
        fix = prepare_fix(pack, run.session.target, "pleo_bank_account_exists")
        assert fix.error is None and set(fix.payload) == {"Name", "AcctNum", "AccountType", "AccountSubType",
                                                          "Description"}
        assert fix_check(pack, run.session.target, "pleo_bank_account_exists").ok  # type: ignore[union-attr]
