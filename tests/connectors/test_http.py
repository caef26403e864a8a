"""The http connector against product fakes: every pagination style, cursors, auth, retries, writes, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.http import HttpProduct, RetryPolicy, cursor_name, load_cursor
from connectors.qbo.inprocess import AsgiBridge
from connectors.sources import FileSource, sources_for, sources_for_pack
from engine.errors import Loc, PasserelleError
from engine.model import Connection
from engine.pipeline import run_pipeline
from engine.store import Store, open_store
from tests.fakes.product import FakeProduct, Fault, ProductSpec
from tests.fakes.server import serve_app
from tests.fakes.specs import freshbooks, libeo, ogustine, orderry, pleo

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://api.example.test"

# How a pack declares each fake (the same connector for every product; only the YAML differs).
FRESHBOOKS: dict[str, Any] = {
    "connector": "http", "base_url": BASE, "auth": {"type": "bearer", "token": {"secret": "api_token"}},
    "resources": {"invoices": {
        "path": "/accounting/account/{{ settings.account_id }}/invoices/invoices", "records": "response.result.invoices",
        "id": "invoiceid", "params": {"include[]": "lines"},
        "paginate": {"style": "page", "param": "page", "size_param": "per_page", "size": 2,
                     "pages": "response.result.pages"},
        "cursor": {"param": "search[updated_min]", "field": "updated"},
        "write": {"create": {"method": "POST", "path": "/accounting/account/{{ settings.account_id }}/invoices/invoices",
                             "wrap": "invoice"},
                  "update": {"method": "PUT", "wrap": "invoice",
                             "path": "/accounting/account/{{ settings.account_id }}/invoices/invoices/{{ target_id }}"}}}}}
PLEO: dict[str, Any] = {
    "connector": "http", "base_url": BASE, "auth": {"type": "bearer", "token": {"secret": "pleo_token"}},
    "resources": {
        "expenses": {"path": "/v3/expenses", "records": "data", "cursor": {"param": "updatedAtFrom", "field": "updatedAt"},
                     "paginate": {"style": "cursor", "param": "after", "size_param": "limit", "size": 2,
                                  "next": "pagination.endCursor"}},
        "categories": {"path": "/v1/accounting-categories", "records": "data",
                       "paginate": {"style": "cursor", "param": "after", "next": "pagination.endCursor"},
                       "write": {"create": {"method": "POST", "path": "/v1/accounting-categories"},
                                 "update": {"method": "PUT", "path": "/v1/accounting-categories/{{ target_id }}"}}}}}
LIBEO: dict[str, Any] = {
    "connector": "http", "base_url": BASE, "auth": {"type": "header", "header": "X-Api-Key", "token": {"secret": "key"}},
    "resources": {
        "payables": {"path": "/v1/payables", "records": "data",
                     "paginate": {"style": "offset", "param": "offset", "size_param": "limit", "size": 2}},
        "payments": {"path": "/v1/payments", "records": "data", "paginate": {"style": "offset", "size_param": "limit"},
                     "write": {"update": {"method": "PATCH", "path": "/v1/payments/{{ target_id }}", "wrap": "payment"}}}}}
ORDERRY: dict[str, Any] = {
    "connector": "http", "base_url": BASE,
    "auth": {"type": "basic", "username": {"secret": "user"}, "password": {"secret": "password"}},
    "resources": {"invoices": {"path": "/api/v2/invoices", "records": "invoices",
                               "paginate": {"style": "link", "size_param": "per_page", "size": 2, "next": "links.next"},
                               "write": {"update": {"method": "PUT", "path": "/api/v2/invoices/{{ target_id }}/status"}}}}}
OGUSTINE: dict[str, Any] = {
    "connector": "http", "base_url": BASE, "auth": {"type": "bearer", "token": {"secret": "token"}},
    "resources": {"invoices": {"path": "/api/invoices", "records": "items",
                               "paginate": {"style": "page", "size_param": "per_page", "size": 2}},
                  "customers": {"path": "/api/customers"}}}

ENV = {"FB": freshbooks.TOKEN, "PLEO": pleo.TOKEN, "LIBEO": libeo.API_KEY, "ORDERRY_USER": orderry.USER,
       "ORDERRY_PASSWORD": orderry.PASSWORD, "OGUSTINE": ogustine.TOKEN}
SECRETS = {"api_token": "FB", "pleo_token": "PLEO", "key": "LIBEO", "user": "ORDERRY_USER",
           "password": "ORDERRY_PASSWORD", "token": "OGUSTINE"}
FAST = RetryPolicy(attempts=4, base_delay=0.01)


def connection(options: Mapping[str, Any], name: str = "product") -> Connection:
    return Connection(name, "http", options, Loc("pack.yaml", 12, 3))


class Harness:
    """Builds products wired in-process to a fake, and records the sleeps the retry loop asks for."""

    def __init__(self) -> None:
        self.bridges: list[AsgiBridge] = []
        self.sleeps: list[float] = []

    def product(self, fake: FakeProduct, options: Mapping[str, Any], *, env: Mapping[str, str] = ENV,
                store: Store | None = None, settings: Mapping[str, Any] | None = None) -> HttpProduct:
        bridge = AsgiBridge(fake.app)
        self.bridges.append(bridge)
        return HttpProduct(connection(options), settings=settings or {"account_id": freshbooks.ACCOUNT},
                           secrets=SECRETS, environ=env, store=store, profile="martin", transport=bridge,
                           policy=FAST, sleep=self.sleeps.append)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    for bridge in h.bridges:
        bridge.close()


def errors_of(exc: pytest.ExceptionInfo[PasserelleError]) -> str:
    return "\n".join(e.format() for e in exc.value.errors)


# -- pagination ------------------------------------------------------------------------------------------------

def test_page_style_reads_every_page_until_the_declared_page_count(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    rows = list(harness.product(fake, FRESHBOOKS).records("invoices"))
    assert [r["invoiceid"] for r in rows] == [1201, 1202, 1203, 1204, 1205]
    assert [(q.path, q.query["page"], q.query["per_page"], q.query["include[]"]) for q in fake.requests] == [
        ("/accounting/account/x7Kp2/invoices/invoices", str(n), "2", "lines") for n in (1, 2, 3)]


def test_cursor_style_follows_the_next_cursor_until_it_is_null(harness: Harness) -> None:
    fake = FakeProduct(pleo.spec())
    rows = list(harness.product(fake, PLEO).records("expenses"))
    assert [r["id"] for r in rows] == [f"exp-00{n}" for n in range(1, 6)]
    assert [("after" in q.query, q.query["limit"]) for q in fake.requests] == [(False, "2"), (True, "2"), (True, "2")]


def test_offset_style_stops_on_a_short_page(harness: Harness) -> None:
    fake = FakeProduct(libeo.spec())
    rows = list(harness.product(fake, LIBEO).records("payables"))
    assert [r["id"] for r in rows] == ["pay-1", "pay-2", "pay-3"]
    assert [q.query["offset"] for q in fake.requests] == ["0", "2"]


def test_offset_style_without_a_size_parameter_stops_on_an_empty_page(harness: Harness) -> None:
    fake = FakeProduct(libeo.spec())
    options = {**LIBEO, "resources": {"payables": {"path": "/v1/payables", "records": "data",
                                                   "paginate": {"style": "offset"}}}}
    assert len(list(harness.product(fake, options).records("payables"))) == 3
    assert [q.query["offset"] for q in fake.requests] == ["0", "3"]  # all 3 on the API's own page, then an empty one


def test_link_style_follows_the_next_link_in_the_body(harness: Harness) -> None:
    fake = FakeProduct(orderry.spec())
    rows = list(harness.product(fake, ORDERRY).records("invoices"))
    assert [r["id"] for r in rows] == [501, 502, 503, 504, 505]
    assert [q.query.get("page") for q in fake.requests] == [None, "2", "3"]


def test_link_style_follows_the_link_header_when_no_body_path_is_declared(harness: Harness) -> None:
    fake = FakeProduct(orderry.spec())
    options = json.loads(json.dumps(ORDERRY))
    del options["resources"]["invoices"]["paginate"]["next"]
    assert len(list(harness.product(fake, options).records("invoices"))) == 5


def test_page_style_without_a_page_count_stops_on_a_short_page_and_none_reads_a_bare_list(harness: Harness) -> None:
    fake = FakeProduct(ogustine.spec())
    product = harness.product(fake, OGUSTINE)
    invoices = list(product.records("invoices"))
    assert [r["id"] for r in invoices] == ["F0001", "F0002", "F0003"]
    assert invoices[0]["pdf_url"].endswith("/F0001.pdf")
    assert [c["id"] for c in product.records("customers")] == ["C1", "C2"]
    assert [q.query.get("page") for q in fake.requests] == ["1", "2", None]


def test_one_read_over_real_http() -> None:
    fake = FakeProduct(pleo.spec())
    with serve_app(fake.app) as url, HttpProduct(connection({**PLEO, "base_url": url + "/"}), secrets=SECRETS,
                                                 environ=ENV) as product:
        rows = list(product.records("expenses"))
    assert len(rows) == 5 and str(rows[0]["amount"]["value"]) == "42.5"


# -- cursors ---------------------------------------------------------------------------------------------------

def test_cursor_round_trip_through_the_store(harness: Harness, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"))
    try:
        fake = FakeProduct(freshbooks.spec())
        first = harness.product(fake, FRESHBOOKS, store=store)
        assert len(list(first.records("invoices"))) == 5
        assert first.pending_cursors() == {"invoices": "2025-01-06 17:45:00"}
        assert load_cursor(store, "martin", cursor_name("product", "invoices")) is None  # reading saves nothing
        first.commit_cursors()
        assert load_cursor(store, "martin", "product.invoices") == "2025-01-06 17:45:00"

        fake.records["invoices"][1]["updated"] = "2025-01-07 08:00:00"
        second = harness.product(fake, FRESHBOOKS, store=store)
        assert [r["invoiceid"] for r in second.records("invoices")] == [1202, 1205]
        assert fake.requests[-1].query["search[updated_min]"] == "2025-01-06 17:45:00"
        second.commit_cursors()
        assert load_cursor(store, "martin", "product.invoices") == "2025-01-07 08:00:00"
    finally:
        store.dispose()


def test_a_read_that_fails_half_way_moves_no_cursor(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    fake.inject(Fault(404, times=1, path="/accounting", body="{}"))
    product = harness.product(fake, FRESHBOOKS)
    with pytest.raises(PasserelleError):
        list(product.records("invoices"))
    assert product.pending_cursors() == {}


# -- auth ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "options", "resource"), [
    (freshbooks.spec(), FRESHBOOKS, "invoices"), (libeo.spec(), LIBEO, "payables"),
    (orderry.spec(), ORDERRY, "invoices")], ids=["bearer", "header", "basic"])
def test_auth_from_env_secrets_and_a_wrong_secret_is_named_but_never_shown(
        harness: Harness, spec: ProductSpec, options: Mapping[str, Any], resource: str) -> None:
    assert list(harness.product(FakeProduct(spec), options).records(resource))
    wrong = {k: "wrong-" + v for k, v in ENV.items()}
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(FakeProduct(spec), options, env=wrong).records(resource))
    text = errors_of(exc)
    assert "E901" in text and "HTTP 401" in text and "connection 'product'" in text and f"resource {resource!r}" in text
    assert not any(secret in text for secret in [*ENV.values(), *wrong.values()])


def test_a_missing_secret_names_its_environment_variable(harness: Harness) -> None:
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(FakeProduct(freshbooks.spec()), FRESHBOOKS, env={}).records("invoices"))
    assert "E903" in errors_of(exc) and "environment variable FB is not set" in errors_of(exc)


def test_a_secret_echoed_in_an_error_body_is_masked(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    fake.inject(Fault(400, body=f'{{"error": "bad token {freshbooks.TOKEN}"}}'))
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(fake, FRESHBOOKS).records("invoices"))
    assert freshbooks.TOKEN not in errors_of(exc) and "bad token ***" in errors_of(exc)


# -- retries ---------------------------------------------------------------------------------------------------

def test_a_500_then_success_is_retried_after_a_short_jittered_pause(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    fake.inject(Fault(500))
    assert len(list(harness.product(fake, FRESHBOOKS).records("invoices"))) == 5
    assert len(harness.sleeps) == 1 and 0.005 <= harness.sleeps[0] <= 0.01


def test_a_429_waits_for_retry_after(harness: Harness) -> None:
    fake = FakeProduct(pleo.spec())
    fake.inject(Fault(429, times=2, retry_after="3"))
    assert len(list(harness.product(fake, PLEO).records("expenses"))) == 5
    assert harness.sleeps == [3.0, 3.0]


def test_a_persistent_500_fails_after_a_few_attempts(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    fake.inject(Fault(502, times=10, body="upstream down"))
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(fake, FRESHBOOKS).records("invoices"))
    assert "HTTP 502 (after 4 attempts): upstream down" in errors_of(exc) and len(harness.sleeps) == 3


def test_a_create_answered_500_is_not_resent(harness: Harness) -> None:
    fake = FakeProduct(pleo.spec())
    fake.inject(Fault(500, method="POST"))
    with pytest.raises(PasserelleError) as exc:
        harness.product(fake, PLEO).write("categories", {"name": "Fuel"})
    assert "POST /v1/accounting-categories answered HTTP 500" in errors_of(exc) and harness.sleeps == []


# -- writes ----------------------------------------------------------------------------------------------------

def test_update_and_create_are_recorded_by_the_fake(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    product = harness.product(fake, FRESHBOOKS)
    answer = product.write("invoices", {"v3_status": "paid", "notes": "QBO 145"}, target_id=1202)
    assert answer["response"]["result"]["invoice"]["v3_status"] == "paid"
    created = product.write("invoices", {"invoice_number": "X1"})
    assert created["response"]["result"]["invoice"]["invoiceid"] == 9001
    assert [(w.method, w.path, w.body) for w in fake.writes] == [
        ("PUT", "/accounting/account/x7Kp2/invoices/invoices/1202", {"invoice": {"v3_status": "paid", "notes": "QBO 145"}}),
        ("POST", "/accounting/account/x7Kp2/invoices/invoices", {"invoice": {"invoice_number": "X1"}})]
    assert fake.records["invoices"][1]["v3_status"] == "paid"


def test_status_writes_of_each_designed_product(harness: Harness) -> None:
    from decimal import Decimal
    libeo_fake, orderry_fake, pleo_fake = FakeProduct(libeo.spec()), FakeProduct(orderry.spec()), FakeProduct(pleo.spec())
    harness.product(libeo_fake, LIBEO).write("payments", {"status": "paid", "amount": Decimal("49.99")}, target_id="pmt-2")
    harness.product(orderry_fake, ORDERRY).write("invoices", {"status": "paid"}, target_id=501)
    harness.product(pleo_fake, PLEO).write("categories", {"accountNumber": "6252"}, target_id="cat-travel")
    assert libeo_fake.writes[0].body == {"payment": {"status": "paid", "amount": 49.99}}
    assert (orderry_fake.writes[0].method, orderry_fake.writes[0].path) == ("PUT", "/api/v2/invoices/501/status")
    assert pleo_fake.records["categories"][0]["accountNumber"] == "6252"


def test_write_errors_name_the_endpoint(harness: Harness) -> None:
    product = harness.product(FakeProduct(libeo.spec()), LIBEO)
    with pytest.raises(PasserelleError) as exc:
        product.write("payments", {"status": "paid"})
    assert "E903" in errors_of(exc) and "no create endpoint" in errors_of(exc)
    with pytest.raises(PasserelleError) as exc:
        product.write("payments", {"status": "paid"}, target_id="pmt-404")
    assert "PATCH /v1/payments/pmt-404 answered HTTP 404" in errors_of(exc)


# -- errors ----------------------------------------------------------------------------------------------------

def test_404_names_connection_resource_and_path(harness: Harness) -> None:
    options = {**OGUSTINE, "resources": {"invoices": {"path": "/api/{{ settings.account_id }}/nothing"}}}
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(FakeProduct(ogustine.spec()), options).records("invoices"))
    error = exc.value.errors[0]
    assert error.code == "E901" and error.loc == Loc("pack.yaml", 12, 3)
    assert "connection 'product', resource 'invoices', /api/x7Kp2/nothing: GET /api/x7Kp2/nothing answered HTTP 404" \
        in error.message and "base_url" in (error.hint or "")


def test_bad_json_and_a_missing_records_path_are_clear(harness: Harness) -> None:
    fake = FakeProduct(freshbooks.spec())
    fake.inject(Fault(200, body="<html>Maintenance</html>", content_type="text/html"))
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(fake, FRESHBOOKS).records("invoices"))
    assert "E902" in errors_of(exc) and "not JSON: <html>Maintenance</html>" in errors_of(exc)
    options = json.loads(json.dumps(FRESHBOOKS))
    options["resources"]["invoices"]["records"] = "response.result.invoice"
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(fake, options).records("invoices"))
    assert "no list at 'response.result.invoice' (found: ['response'])" in errors_of(exc)


def test_unknown_resource_and_unset_setting(harness: Harness) -> None:
    product = harness.product(FakeProduct(freshbooks.spec()), FRESHBOOKS, settings={"other": 1})
    with pytest.raises(PasserelleError) as exc:
        list(product.records("bills"))
    assert "E321" in errors_of(exc) and "resources: invoices" in errors_of(exc)
    with pytest.raises(PasserelleError) as exc:
        list(product.records("invoices"))
    assert "E903" in errors_of(exc) and "account_id" in errors_of(exc)


def test_a_next_link_to_another_host_is_refused(harness: Harness) -> None:
    fake = FakeProduct(orderry.spec())
    fake.inject(Fault(200, body='{"invoices": [{"id": 1}], "links": {"next": "https://collector.test/steal"}}'))
    with pytest.raises(PasserelleError) as exc:
        list(harness.product(fake, ORDERRY).records("invoices"))
    assert "the next link leaves the API (collector.test)" in errors_of(exc)
    assert len(fake.requests) == 1


# -- declarations and registry ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [FRESHBOOKS, PLEO, LIBEO, ORDERRY, OGUSTINE],
                         ids=["freshbooks", "pleo", "libeo", "orderry", "ogustine"])
def test_every_declaration_here_follows_the_pack_schema(options: Mapping[str, Any]) -> None:
    schema = json.loads((ROOT / "schemas" / "pack.schema.json").read_text())
    jsonschema.validate(options, {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/httpConnection"})


def test_sources_for_stays_backward_compatible_and_touches_no_network() -> None:
    conns = {"product": connection(FRESHBOOKS), "files": Connection("files", "file", {"resources": {}}, Loc("x"))}
    sources = sources_for(conns)
    assert isinstance(sources["product"], HttpProduct) and isinstance(sources["files"], FileSource)


def test_the_freshbooks_pack_reads_its_product_connection_from_the_fake() -> None:
    loaded = run_pipeline(ROOT / "rules/freshbooks/customers/boulangerie-martin.yaml")
    fake = FakeProduct(freshbooks.spec())
    bridge = AsgiBridge(fake.app)
    try:
        sources = sources_for_pack(loaded.resolved, environ={"MARTIN_FRESHBOOKS_TOKEN": freshbooks.TOKEN},
                                   transports={"product": bridge})
        product = sources["product"]
        assert [len(list(product.records(r))) for r in ("invoices", "payments", "expenses")] == [5, 3, 3]
        assert {q.path for q in fake.requests} == {f"/accounting/account/x7Kp2/{k}/{k}"
                                                  for k in ("invoices", "payments", "expenses")}
        assert all(q.query["per_page"] == "100" for q in fake.requests)
    finally:
        bridge.close()
