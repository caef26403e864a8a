"""The whole pipeline on real packs: compiled payloads are snapshot-tested, overlays checked."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.file import read_records
from engine.build import freeze
from engine.cli.output import dumps
from engine.context import NoLedger, PlaceholderReferenceData, StaticReferenceData
from engine.errors import PasserelleError
from engine.evaluate import evaluate
from engine.pipeline import run_pipeline

FRESHBOOKS = Path(__file__).resolve().parents[2] / "rules" / "freshbooks"
PROFILES = sorted(p.stem for p in (FRESHBOOKS / "customers").glob("*.yaml"))


def _map_all(profile: str) -> list[dict[str, object]]:
    loaded = run_pipeline(FRESHBOOKS / "customers" / f"{profile}.yaml")
    data_conn = loaded.resolved.connections["product"]
    out = []
    for flow in loaded.compiled.flows.values():
        if not flow.enabled:
            out.append({"flow": flow.name, "enabled": False})
            continue
        resource = {"path": f"../data/{flow.flow.source.entity}.json"}
        base = data_conn.base_dir if data_conn.connector == "file" else FRESHBOOKS / "customers"
        for record in read_records(Path(base), resource):
            result = evaluate(flow, freeze(record), loaded.compiled.settings, refs=PlaceholderReferenceData(),
                              ledger=NoLedger())
            out.append({"flow": flow.name, "entity": result.entity, "key": result.key, "action": result.action,
                        "reason": result.reason, "payload": result.payload,
                        "creates": [c.placeholder for c in result.creates]})
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_freshbooks_payloads_snapshot(profile: str, snapshot: object) -> None:
    assert json.loads(dumps(_map_all(profile))) == snapshot


def test_E3_profile_changes_settings_and_rows_without_copying_the_pack() -> None:
    martin = run_pipeline(FRESHBOOKS / "customers" / "boulangerie-martin.yaml")
    demo = run_pipeline(FRESHBOOKS / "customers" / "demo.yaml")
    assert martin.compiled.flows["invoices"].entity == "SalesReceipt"
    assert demo.compiled.flows["invoices"].entity == "Invoice"
    taxes = martin.resolved.tables["sales_taxes"].rows
    assert taxes["TVA 2.1"].value == "TVA 2,1 %" and "boulangerie-martin.yaml" in taxes["TVA 2.1"].loc.file
    assert "TVA 2.1" not in demo.resolved.tables["sales_taxes"].rows
    assert martin.resolved.settings["customer_mode"].layer == "profile"
    assert martin.resolved.settings["due_days"].layer == "pack default"
    dupont = run_pipeline(FRESHBOOKS / "customers" / "atelier-dupont.yaml")
    assert "Meals and Entertainment" not in dupont.resolved.tables["expense_categories"].rows
    assert dupont.compiled.flows["payments"].enabled


def test_generic_customer_mode_and_sku_matching_resolve_against_reference_data() -> None:
    loaded = run_pipeline(FRESHBOOKS / "customers" / "boulangerie-martin.yaml")
    refs = StaticReferenceData({
        "Customer": [{"Id": "58", "DisplayName": "Ventes en ligne"}],
        "Item": [{"Id": "3", "Name": "Conseil", "Sku": "Consulting"}, {"Id": "4", "Name": "Rapport", "Sku": "Report"},
                 {"Id": "9", "Name": "Rounding"}],
        "TaxCode": [{"Id": "2", "Name": "TVA 20 %"}],
        "Class": [{"Id": "c1", "Name": "Boutique"}],

        "Department": [{"Id": "d1", "Name": "Paris 11"}],
        "Account": [{"Id": "a1", "Name": "Fonds non déposés"}],
    })
    record = next(r for r in read_records(FRESHBOOKS / "data", {"path": "invoices.json"}) if r["invoiceid"] == 1201)
    result = evaluate(loaded.compiled.flows["invoices"], freeze(record), loaded.compiled.settings, refs=refs,
                      ledger=NoLedger())
    assert result.action == "write", result.error
    payload = result.payload
    assert payload is not None
    assert payload["CustomerRef"] == {"value": "58", "name": "Ventes en ligne"}
    assert [line["SalesItemLineDetail"]["ItemRef"]["value"] for line in payload["Line"]] == ["3", "4"]
    assert payload["ClassRef"]["value"] == "c1" and payload["DepartmentRef"]["value"] == "d1"
    assert payload["DocNumber"] == "FB1201"
    assert "DueDate" not in payload  # a SalesReceipt has no due date in this pack
    assert payload["Line"][0]["Amount"] == Decimal("240.00")


def test_missing_item_without_creation_is_a_located_record_error() -> None:
    loaded = run_pipeline(FRESHBOOKS / "customers" / "boulangerie-martin.yaml")
    refs = StaticReferenceData({"Customer": [{"Id": "58", "DisplayName": "Ventes en ligne"}],
                                "Class": [{"Id": "c1", "Name": "Boutique"}],
                                "Department": [{"Id": "d1", "Name": "Paris 11"}]})
    record = {"invoiceid": 5, "invoice_number": "5", "v3_status": "paid", "create_date": "2025-02-01",
              "lines": [{"name": "Nope", "qty": "1", "unit_cost": {"amount": "1"}, "amount": {"amount": "1"}}]}
    result = evaluate(loaded.compiled.flows["invoices"], freeze(record), loaded.compiled.settings, refs=refs,
                      ledger=NoLedger())
    assert result.action == "error" and result.error is not None
    assert "no Item with Sku = 'Nope'" in result.error.message
    assert result.error.loc is not None and result.error.loc.file.endswith("invoices.yaml")
    assert result.error.loc.line > 70  # the ItemRef rule, not the flow's first line


def test_trace_names_rule_table_row_and_setting(root: Path) -> None:
    loaded = run_pipeline(root / "tests/cases/packs/repair_shop/customers/strict.yaml")
    record = read_records(root / "tests/cases/packs/repair_shop", {"path": "invoices.json"})
    first = next(iter(record))
    result = evaluate(loaded.compiled.flows["invoices"], freeze(first), loaded.compiled.settings, trace=True)
    targets = {entry.target: entry for entry in result.trace}
    assert targets["DocNumber"].kind == "template" and "pack.yaml:" in targets["DocNumber"].rule
    assert targets["Line[0].Amount"].detail.startswith("expr line.price * line.qty")
    assert result.payload is not None and result.payload["Line"][0]["Amount"] == Decimal("59.97")


def test_table_gap_at_runtime_is_reported_for_the_record(repair_shop: Path) -> None:
    loaded = run_pipeline(repair_shop / "customers" / "strict.yaml")
    records = list(read_records(repair_shop, {"path": "invoices.json"}))
    results = [evaluate(loaded.compiled.flows["invoices"], freeze(r), loaded.compiled.settings) for r in records]
    assert [r.action for r in results] == ["write", "skip", "error"]
    assert results[2].error is not None and "table 'taxes' has no row for 'vat5'" in results[2].error.message
    assert results[1].reason and "filtered out" in results[1].reason


def test_profile_setting_with_wrong_type_is_located_in_the_profile(tmp_path: Path, repair_shop: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: p}}\npack: {repair_shop}\n"
                       "settings:\n  auto_statuses: done\n  status_on_updte: x\n", encoding="utf-8")
    with pytest.raises(PasserelleError) as caught:
        run_pipeline(profile)
    text = "\n".join(e.format() for e in caught.value.errors)
    assert "p.yaml:6:18: error[E312]" in text
    assert "p.yaml:7:20: error[E310]: unknown setting 'status_on_updte'" in text
    assert "did you mean 'status_on_update'?" in text


@pytest.mark.parametrize("profile", PROFILES)
def test_compiled_pack_snapshot(profile: str, snapshot: object) -> None:
    """What a profile compiles to: flows on/off, target entities, expressions and the settings they read."""
    compiled = run_pipeline(FRESHBOOKS / "customers" / f"{profile}.yaml").compiled
    summary = {
        name: {
            "enabled": flow.enabled,
            "entity": flow.entity,
            "key": flow.key.src.text,
            "when": flow.when.src.text if flow.when else None,
            "settings_read": sorted({s for v in (flow.when, flow.date) if v for s in v.settings}),
            "vars": [n for n, _ in flow.vars],
            "match": [f for f, _ in flow.match],
            "void_when": flow.void_when.src.text if flow.void_when else None,
        }
        for name, flow in compiled.flows.items()
    }
    summary["checks"] = {name: {"kind": c.check.kind, "blocking": c.check.blocking} for name, c in compiled.checks.items()}
    assert summary == snapshot


def test_ref_field_returns_a_field_of_the_record_found(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("""passerelle: 1
kind: pack
pack: {name: rates, version: 0.1.0}
connections:
  qbo: {connector: qbo}
  product: {connector: file, resources: {lines: {path: lines.json}}}
flows:
  lines:
    from: {connection: product, entity: lines}
    to: {connection: qbo, entity: Item}
    key: str(record.id)
    fields:
      Name: record.name
      UnitPrice: {ref: {entity: TaxRate, by: Name, value: record.rate_name, field: RateValue}}
""", encoding="utf-8")
    loaded = run_pipeline(pack)
    refs = StaticReferenceData({"TaxRate": [{"Id": "21", "Name": "TVA collectée 20 %", "RateValue": 20}]})
    result = evaluate(loaded.compiled.flows["lines"], {"id": 1, "name": "x", "rate_name": "TVA collectée 20 %"},
                      loaded.compiled.settings, refs=refs, ledger=NoLedger())
    assert result.payload is not None and result.payload["UnitPrice"] == 20
