"""Tables against the QBO company (issue 18): `refers_to` values must name existing, active records of the
right kind, located at the table row like `validate`'s errors; rows no case reaches and keys no row covers
are listed; `passerelle check --tables` against the sandbox with a deactivated tax code."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.sandbox import DEFAULT_REALM_IDS, Sandbox
from engine.cli.check import check
from engine.context import StaticReferenceData
from engine.errors import PasserelleError
from engine.impact import PackLoader, pack_cases
from engine.pipeline import run_pipeline
from engine.reftypes import REFERENCE_TYPES
from engine.resources import schema
from engine.runtime.tables import check_table_refs, check_table_usage
from engine.tablecheck import fixture_usage

ROOT = Path(__file__).resolve().parents[3]
REALM = DEFAULT_REALM_IDS["fr"]
FRESHBOOKS = ROOT / "rules/freshbooks"

COMPANY = {
    "Account": [
        {"Id": "1", "Name": "Banque principale", "AccountType": "Bank", "Active": True},
        {"Id": "6", "Name": "Fonds non déposés", "AccountType": "Other Current Asset", "Active": True},
        {"Id": "10", "Name": "Fournitures administratives", "AccountType": "Expense", "Active": True},
        {"Id": "12", "Name": "Frais postaux et télécommunications", "AccountType": "Expense", "Active": True},
        {"Id": "11", "Name": "Locations immobilières", "AccountType": "Expense", "Active": True},
        {"Id": "13", "Name": "Services bancaires", "AccountType": "Expense", "Active": True},
        {"Id": "14", "Name": "Honoraires", "AccountType": "Expense", "Active": True},
        {"Id": "2", "Name": "Banque secondaire", "AccountType": "Bank", "Active": True},
    ],
    "TaxCode": [
        {"Id": str(30 + n), "Name": name, "Active": True,
         "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "1"}}]},
         "PurchaseTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "2"}}]}}
        for n, name in enumerate(["TVA 20 %", "TVA 10 %", "TVA 5,5 %", "TVA 0 % (exonéré)"], start=1)
    ],
}


def profile(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "customer.yaml"
    path.write_text(textwrap.dedent("""\
        passerelle: 1
        kind: profile
        profile: {name: customer}
        pack: freshbooks
        settings: {invoice_prefix: FB}
        """) + tables, encoding="utf-8")
    return path


def findings(path: Path, company: dict[str, list[dict[str, object]]]) -> list[str]:
    loaded = run_pipeline(path)
    return [e.format() for e in check_table_refs(loaded.resolved, StaticReferenceData(company))]


def test_registry_has_the_types_the_schema_allows() -> None:
    refers = schema("pack.schema.json")["$defs"]["table"]["properties"]["refers_to"]["properties"]
    assert set(REFERENCE_TYPES) == set(refers["type"]["enum"])
    assert {t.entity for t in REFERENCE_TYPES.values()} <= set(refers["entity"]["enum"])


def test_the_demo_tables_name_active_records_of_the_right_kind() -> None:
    assert findings(FRESHBOOKS / "customers/demo.yaml", COMPANY) == []


def test_a_profile_row_naming_a_deactivated_tax_code_is_an_error_at_the_row(tmp_path: Path) -> None:
    path = profile(tmp_path, 'tables:\n  sales_taxes:\n    add:\n      "VAT 2.1": "TVA 2,1 %"\n')
    company = {**COMPANY, "TaxCode": [*COMPANY["TaxCode"], {**COMPANY["TaxCode"][0], "Id": "34", "Name": "TVA 2,1 %",
                                                             "Active": False}]}
    found = findings(path, company)
    assert found == [f"{path}:9:18: error[E831]: table 'sales_taxes' row 'VAT 2.1': the TaxCode with Name 'TVA 2,1 %' "
                     "is inactive in the QBO company\n  the row is added by the profile\n"
                     "  hint: reactivate it in QuickBooks, or point the row 'VAT 2.1' at an active TaxCode"]


def test_missing_records_and_wrong_kinds_are_located_errors(tmp_path: Path) -> None:
    path = profile(tmp_path, textwrap.dedent("""\
        tables:
          expense_categories:
            replace: {Rent: Banque principale, Telephone: Frais de port}
        """))
    found = findings(path, COMPANY)
    assert any(f.startswith(f"{path}:8:21: error[E832]: table 'expense_categories' row 'Rent': the Account with "
                            "Name 'Banque principale' is a Bank account, an expense account (Expense, Other Expense or "
                            "Cost of Goods Sold) is needed") for f in found), found
    assert any(f.startswith(f"{path}:8:51: error[E830]: table 'expense_categories' row 'Telephone': no Account "
                            "with Name 'Frais de port' in the QBO company") for f in found), found
    # a clearing account must take deposits: an expense account as the default is refused at the pack's line
    bad = {**COMPANY, "Account": [a if a["Name"] != "Fonds non déposés" else {**a, "AccountType": "Expense"}
                                  for a in COMPANY["Account"]]}
    found = findings(FRESHBOOKS / "customers/demo.yaml", bad)
    assert len(found) == 1 and "error[E832]: table 'clearing_accounts' default: the Account with Name 'Fonds non " \
        "déposés' is a Expense account, an account payments can be deposited to" in found[0]
    assert found[0].startswith(str(FRESHBOOKS / "tables.yaml") + ":")


def test_a_type_of_another_entity_is_a_resolve_error(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    (pack / "customers").mkdir(parents=True)
    (pack / "pack.yaml").write_text(textwrap.dedent("""\
        passerelle: 1
        kind: pack
        pack: {name: p, version: 1.0.0}
        tables:
          codes:
            description: x
            refers_to: {entity: TaxCode, type: expense}
            rows: {a: b}
        """), encoding="utf-8")
    with pytest.raises(PasserelleError) as caught:
        run_pipeline(pack)
    assert [e.code for e in caught.value.errors] == ["E317"]
    assert "type 'expense' names Account records, not TaxCode" in caught.value.errors[0].message


def test_rows_no_case_reaches_and_keys_no_row_covers_are_listed() -> None:
    loaded = run_pipeline(FRESHBOOKS / "customers/demo.yaml")
    cases, errors = pack_cases(FRESHBOOKS, PackLoader())
    assert not errors and cases
    usage = fixture_usage(loaded, cases)
    assert "Office Supplies" in usage["expense_categories"] and "Rent" not in usage["expense_categories"]
    found = {(e.code, e.message.split(":")[0]) for e in check_table_usage(loaded.resolved, usage)}
    assert ("E834", "table 'expense_categories' row 'Rent'") in found
    assert ("E835", "table 'sales_taxes' has no row for 'VAT 8.5' (the record fails), looked up by case "
            "record_error_missing_tax_row") in found
    assert not any(message.startswith("table 'expense_categories' row 'Office Supplies'") for _, message in found)


def run_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(check, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def deactivate(sandbox: Sandbox, name: str) -> None:
    with sandbox.store.lock:
        for row in sandbox.realm(REALM).table("TaxCode").values():
            if row["Name"] == name:
                row["Active"] = False


def test_check_tables_fails_on_a_deactivated_tax_code_with_the_rows_file_and_line(served: Sandbox,
                                                                                  tmp_path: Path) -> None:
    path = profile(tmp_path, 'tables:\n  sales_taxes:\n    add:\n      "VAT 2.1": "TVA 2,1 %"\n')
    code, text = run_check(str(path), "--tables")
    assert code == 0, text
    assert "error[" not in text
    deactivate(served, "TVA 2,1 %")
    code, text = run_check(str(path), "--tables")
    assert code == 1, text
    assert f"{path}:9:18: error[E831]: table 'sales_taxes' row 'VAT 2.1': the TaxCode with Name 'TVA 2,1 %' is " \
        "inactive in the QBO company" in text
    assert "warning[E834]" in text  # rows no case reaches are listed, and do not fail the check
    code, text = run_check(str(path))  # plain `check` runs the table checks too
    assert code == 1 and "error[E831]" in text and "Tables against the QBO company:" in text
    assert json.loads(json.dumps(text))  # printable as is
