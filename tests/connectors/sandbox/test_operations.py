"""Create, read, full and sparse update, SyncToken, MetaData, required fields, references, shapes."""

from __future__ import annotations

from connectors.sandbox import ManualClock
from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import FR, US, fault_code, fr_invoice

MV = {"minorversion": "75"}


def test_create_returns_qbo_envelope_with_id_synctoken_metadata(client: InProcessClient) -> None:
    response = client.create("Customer", {"DisplayName": "Atelier Nord"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Customer", "time"}
    customer = body["Customer"]
    assert customer["SyncToken"] == "0" and customer["Id"].isdigit()
    assert customer["domain"] == "QBO" and customer["sparse"] is False and customer["Active"] is True
    assert customer["MetaData"]["CreateTime"] == "2025-01-15T10:00:00+01:00"  # company offset (Paris)
    assert body["time"].startswith("2025-01-15T10:00:00.000+01:00")


def test_read_back_and_unknown_id_is_610(client: InProcessClient) -> None:
    created = client.create("Vendor", {"DisplayName": "Imprimerie Sud"}).json()["Vendor"]
    read = client.get(f"{client.company()}/vendor/{created['Id']}", params=MV)
    assert read.json()["Vendor"] == created
    missing = client.get(f"{client.company()}/vendor/999999", params=MV)
    assert missing.status_code == 400 and fault_code(missing) == "610"
    assert missing.json()["Fault"]["type"] == "ValidationFault"


def test_metadata_times_follow_the_clock(client: InProcessClient, clock: ManualClock) -> None:
    created = client.create("Class", {"Name": "Export"}).json()["Class"]
    clock.advance(hours=2)
    updated = client.create("Class", {"Id": created["Id"], "SyncToken": "0", "sparse": True,
                                      "Name": "Export UE"}).json()["Class"]
    assert updated["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]
    assert updated["MetaData"]["LastUpdatedTime"] == "2025-01-15T12:00:00+01:00"
    assert updated["SyncToken"] == "1"


def test_stale_synctoken_is_5010(client: InProcessClient) -> None:
    created = client.create("Customer", {"DisplayName": "Client A"}).json()["Customer"]
    first = client.create("Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
    assert first.json()["Customer"]["SyncToken"] == "1"
    stale = client.create("Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "y"})
    assert stale.status_code == 400 and fault_code(stale) == "5010"
    assert stale.json()["Fault"]["Error"][0]["Message"] == "Stale Object Error"


def test_sparse_update_keeps_other_fields_full_update_clears_them(client: InProcessClient) -> None:
    created = client.create("Customer", {"DisplayName": "Client B", "CompanyName": "B SAS",
                                         "Notes": "vip"}).json()["Customer"]
    sparse = client.create("Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True,
                                        "Notes": "regular"}).json()["Customer"]
    assert sparse["CompanyName"] == "B SAS" and sparse["Notes"] == "regular"
    full = client.create("Customer", {"Id": created["Id"], "SyncToken": "1", "DisplayName": "Client B"}).json()
    assert "CompanyName" not in full["Customer"] and "Notes" not in full["Customer"]


def test_sparse_line_update_replaces_all_lines(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    line = {"DetailType": "SalesItemLineDetail", "Amount": 10, "SalesItemLineDetail": {
        "ItemRef": {"value": "60"}, "TaxCodeRef": {"value": "35"}}}
    updated = client.create("Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True,
                                        "Line": [line]}).json()["Invoice"]
    assert [ln["DetailType"] for ln in updated["Line"]] == ["SalesItemLineDetail", "SubTotalLineDetail"]
    assert updated["TotalAmt"] == 10 and updated["DocNumber"] == "F1001"


def test_required_fields_are_2020(client: InProcessClient) -> None:
    no_lines = client.create("Invoice", {"CustomerRef": {"value": "52"}, "DocNumber": "X1",
                                         "GlobalTaxCalculation": "TaxExcluded"})
    assert fault_code(no_lines) == "2020" and no_lines.json()["Fault"]["Error"][0]["element"] == "Line"
    assert fault_code(client.create("Item", {"Name": "Sans type"})) == "2020"
    assert fault_code(client.create("Customer", {"Notes": "no name"})) == "2020"
    assert fault_code(client.create("Term", {"Name": "Net 10"})) == "2020"
    assert fault_code(client.create("Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 5})) == "2020"  # FR ref


def test_invalid_reference_is_2500_with_element_path(client: InProcessClient) -> None:
    payload = fr_invoice()
    payload["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "424242"}
    response = client.create("Invoice", payload)
    assert response.status_code == 400 and fault_code(response) == "2500"
    assert response.json()["Fault"]["Error"][0]["element"] == "Line.SalesItemLineDetail.ItemRef"
    wrong_type = client.create("Invoice", fr_invoice(customer="56"))  # 56 is a vendor
    assert fault_code(wrong_type) == "2500"


def test_inactive_reference_is_610_for_new_links_only(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    client.create("Customer", {"Id": "52", "SyncToken": "0", "sparse": True, "Active": False})
    again = client.create("Invoice", fr_invoice(doc="F1002"))
    assert fault_code(again) == "610"
    kept = client.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                     "PrivateNote": "still fine"})
    assert kept.status_code == 200


def test_unknown_fields_are_2010_read_only_fields_ignored(client: InProcessClient) -> None:
    response = client.create("Customer", {"DisplayName": "C", "Favourite": "yes"})
    assert fault_code(response) == "2010" and response.json()["Fault"]["Error"][0]["element"] == "Favourite"
    echoed = client.create("Customer", {"DisplayName": "D", "Balance": 999, "FullyQualifiedName": "zzz"})
    assert echoed.json()["Customer"]["Balance"] == 0 and echoed.json()["Customer"]["FullyQualifiedName"] == "D"
    bad_detail = fr_invoice()
    bad_detail["Line"][0]["SalesItemLineDetail"]["Colour"] = "red"
    assert fault_code(client.create("Invoice", bad_detail)) == "2010"


def test_duplicate_names_are_6240_across_customers_and_vendors(client: InProcessClient) -> None:
    assert fault_code(client.create("Vendor", {"DisplayName": "Boulangerie Martin"})) == "6240"
    assert fault_code(client.create("Item", {"Name": "conseil", "Type": "Service",
                                             "IncomeAccountRef": {"value": "15"}})) == "6240"


def test_enumerations_and_lengths(client: InProcessClient) -> None:
    assert fault_code(client.create("Item", {"Name": "X", "Type": "Magic"})) == "2170"
    long_note = client.create("Customer", {"DisplayName": "E", "Notes": "n", "PrintOnCheckName": "p"})
    assert long_note.status_code == 200
    assert fault_code(client.create("Term", {"Name": "x" * 32, "DueDays": 3})) == "2050"


def test_minorversion_and_accept_header(client: InProcessClient) -> None:
    url = f"{client.company()}/customer/52"
    assert client.get(url, params={"minorversion": "70"}).status_code == 200  # old versions read as 75
    too_new = client.get(url, params={"minorversion": "76"})
    assert too_new.status_code == 400 and fault_code(too_new) == "2010"
    xml_only = client.get(url, params=MV, headers={"Accept": "application/xml"})
    assert xml_only.status_code == 406


def test_unknown_entity_path_and_realm(client: InProcessClient) -> None:
    assert client.get(f"{client.company()}/widget/1", params=MV).status_code == 404
    unknown = client.get("/v3/company/123/customer/52", params=MV)
    assert unknown.status_code == 403 and fault_code(unknown) == "3100"


def test_realms_are_separate(client: InProcessClient) -> None:
    client.create("Customer", {"DisplayName": "Only in FR"}, realm_id=FR)
    found_us = client.query("select * from Customer where DisplayName = 'Only in FR'", realm_id=US).json()
    assert found_us["QueryResponse"] == {}


def test_tax_codes_are_read_only_and_preferences_singleton(client: InProcessClient) -> None:
    assert fault_code(client.create("TaxCode", {"Name": "Mine"})) == "500"
    prefs = client.get(f"{client.company()}/preferences", params=MV).json()["Preferences"]
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert prefs["CurrencyPrefs"]["HomeCurrency"]["value"] == "EUR"
    updated = client.post(f"{client.company()}/preferences", params=MV, json={
        "SyncToken": prefs["SyncToken"], "SalesFormsPrefs": {"CustomTxnNumbers": False}}).json()["Preferences"]
    assert updated["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    assert updated["SalesFormsPrefs"]["AllowDiscount"] is True
    info = client.get(f"{client.company()}/companyinfo/{FR}", params=MV).json()["CompanyInfo"]
    assert info["Country"] == "FR"
