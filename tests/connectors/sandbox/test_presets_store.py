"""Presets (FR, US), fixtures, and persistence across a restart with a data directory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from connectors.sandbox import RealmSpec, Sandbox, SandboxConfig
from connectors.sandbox.testing import test_config
from tests.connectors.sandbox.helpers import FR, US, fr_invoice


def test_french_preset(sandbox: Sandbox) -> None:
    rates = {row["Name"]: float(row["RateValue"]) for row in sandbox.realm(FR).rows("TaxRate")}
    assert {20.0, 10.0, 5.5, 2.1, 0.0} <= set(rates.values())
    accounts = {row["AcctNum"]: row["AccountType"] for row in sandbox.realm(FR).rows("Account")}
    assert accounts["512000"] == "Bank" and accounts["401000"] == "Accounts Payable"
    assert accounts["411000"] == "Accounts Receivable"
    assert any(num.startswith("6") and kind == "Expense" for num, kind in accounts.items())
    assert any(num.startswith("7") and kind == "Income" for num, kind in accounts.items())
    for entity in ("Customer", "Vendor", "Item", "Class", "Department"):
        assert len(list(sandbox.realm(FR).rows(entity))) >= 2, entity
    prefs = sandbox.read(FR, "Preferences", "1")
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert prefs["CurrencyPrefs"]["HomeCurrency"]["value"] == "EUR"


def test_us_preset(sandbox: Sandbox) -> None:
    codes = {row["Id"] for row in sandbox.realm(US).rows("TaxCode")}
    assert {"TAX", "NON"} <= codes
    assert sandbox.read(US, "CompanyInfo", "1")["Country"] == "US"
    assert sandbox.read(US, "Preferences", "1")["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"


def test_fixtures_go_through_the_rules(sandbox: Sandbox) -> None:
    created = sandbox.load_fixtures(FR, {"Customer": [{"DisplayName": "Fixture SA"}],
                                         "Invoice": [fr_invoice(doc="FX-1")]})
    assert created["Invoice"][0]["TotalAmt"] == Decimal("396.93")
    assert sandbox.query(FR, "select * from Customer where DisplayName = 'Fixture SA'")["Customer"]


def test_empty_preset_and_added_realm(sandbox: Sandbox) -> None:
    realm = sandbox.add_realm("555", "empty")
    assert not list(realm.rows("Customer")) and sandbox.read("555", "TaxCode", "TAX")["Taxable"] is True


def test_data_directory_survives_a_restart(tmp_path: Path) -> None:
    config = test_config(data_dir=tmp_path, realms=(RealmSpec(FR, "fr"),))
    first = Sandbox(config)
    invoice = first.write(FR, "Invoice", fr_invoice())
    first.close()
    second = Sandbox(config)
    assert second.read(FR, "Invoice", invoice["Id"])["TotalAmt"] == Decimal("396.93")
    fresh = second.write(FR, "Class", {"Name": "After restart"})
    assert int(fresh["Id"]) > int(invoice["Id"])
    assert (tmp_path / f"realm-{FR}.json").exists()
    second.close()


def test_in_memory_by_default() -> None:
    assert SandboxConfig().data_dir is None
