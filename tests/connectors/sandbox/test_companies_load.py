"""Several companies in one sandbox (``--companies N``) and the per-company load figures (``GET /admin/load``),
over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import click
import httpx
import pytest

from connectors.sandbox import ManualClock, Sandbox, SandboxConfig, companies, company_realm_id, serve
from connectors.sandbox.cli import build_config, load_lines
from connectors.sandbox.testing import TEST_TOKEN
from tests.connectors.sandbox.helpers import FR, US

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json"}
R1, R2, R3 = (company_realm_id(n) for n in (1, 2, 3))


def _sandbox(count: int = 3, **settings: object) -> Sandbox:
    values: dict[str, object] = {"static_tokens": (TEST_TOKEN,), "clock": ManualClock()}
    values.update(settings)
    return Sandbox(SandboxConfig.with_companies(count, **values))  # type: ignore[arg-type]


@pytest.fixture
def fleet() -> Iterator[tuple[Sandbox, str]]:
    state = _sandbox(requests_per_minute=4, batches_per_minute=2)
    with serve(state) as base:
        yield state, base
    state.close()


def _get(base: str, realm: str, path: str, token: str = TEST_TOKEN) -> httpx.Response:
    return httpx.get(f"{base}/v3/company/{realm}/{path}", params={"minorversion": "75"},
                     headers={**HEADERS, "Authorization": f"Bearer {token}"})


def test_companies_have_distinct_ids_and_take_presets_in_turn() -> None:
    specs = companies(4, ("fr", "us"))
    assert [spec.realm_id for spec in specs] == [R1, R2, R3, company_realm_id(4)]
    assert [spec.preset for spec in specs] == ["fr", "us", "fr", "us"]
    assert (R1, R2) == (FR, US)  # the first ids are the presets' usual ones
    with pytest.raises(ValueError):
        companies(0)


def test_each_company_has_its_own_data(fleet: tuple[Sandbox, str]) -> None:
    state, base = fleet
    assert state.realm_ids == (R1, R2, R3)
    created = httpx.post(f"{base}/v3/company/{R2}/customer", json={"DisplayName": "Only in two"}, headers=HEADERS)
    assert created.status_code == 200
    seen = {realm: state.query(realm, "select count(*) from Customer where DisplayName = 'Only in two'")
            ["totalCount"] for realm in (R1, R2, R3)}
    assert seen == {R1: 0, R2: 1, R3: 0}
    # a preset's nested values are copied per company: changing one company's preferences leaves the others alone
    prefs = {"SyncToken": "0", "SalesFormsPrefs": {"CustomTxnNumbers": False}}
    assert httpx.post(f"{base}/v3/company/{R3}/preferences", json=prefs, headers=HEADERS).status_code == 200
    assert state.realm(R3).preference("SalesFormsPrefs", "CustomTxnNumbers") is False
    assert state.realm(R1).preference("SalesFormsPrefs", "CustomTxnNumbers") is True


def test_static_token_is_valid_for_every_company_and_issued_tokens_for_one(fleet: tuple[Sandbox, str]) -> None:
    state, base = fleet
    assert [_get(base, realm, f"companyinfo/{realm}").status_code for realm in (R1, R2, R3)] == [200] * 3
    token = state.issue_token(R2).access_token
    assert _get(base, R2, "customer/52", token).status_code == 200
    assert _get(base, R1, "customer/52", token).status_code == 403


def test_each_company_has_its_own_limits(fleet: tuple[Sandbox, str]) -> None:
    _, base = fleet
    assert [_get(base, R1, "customer/52").status_code for _ in range(5)] == [200] * 4 + [429]
    assert _get(base, R2, "customer/52").status_code == 200


def _authorize(base: str, **extra: str) -> httpx.Response:
    params = {"client_id": "sandbox-client-id", "response_type": "code", "redirect_uri": "http://localhost/cb",
              "scope": "com.intuit.quickbooks.accounting", "state": "s", **extra}
    return httpx.get(f"{base}/connect/oauth2", params=params)


@pytest.mark.parametrize("parameter", ["realm_id", "realmId"])
def test_authorize_lets_the_user_pick_a_company(fleet: tuple[Sandbox, str], parameter: str) -> None:
    _, base = fleet
    answer = _authorize(base, **{parameter: R3})
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["realmId"] == [R3]
    tokens = httpx.post(f"{base}/oauth2/v1/tokens/bearer", auth=("sandbox-client-id", "sandbox-client-secret"),
                        data={"grant_type": "authorization_code", "code": query["code"][0],
                              "redirect_uri": "http://localhost/cb"}).json()
    assert _get(base, R3, "customer/52", tokens["access_token"]).status_code == 200
    assert _get(base, R1, "customer/52", tokens["access_token"]).status_code == 403


def test_authorize_without_a_choice_gives_the_first_company_and_refuses_an_unknown_one(
        fleet: tuple[Sandbox, str]) -> None:
    _, base = fleet
    assert parse_qs(urlparse(_authorize(base).headers["location"]).query)["realmId"] == [R1]
    refused = parse_qs(urlparse(_authorize(base, realmId="123").headers["location"]).query)
    assert refused["error"] == ["access_denied"]


def test_load_report_counts_peaks_totals_and_refusals_per_company(fleet: tuple[Sandbox, str]) -> None:
    state, base = fleet
    clock = state.clock
    assert isinstance(clock, ManualClock)
    for _ in range(3):
        _get(base, R1, "customer/52")
    clock.advance(61)
    for _ in range(2):
        _get(base, R1, "customer/52")
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]}
    statuses = [httpx.post(f"{base}/v3/company/{R2}/batch", json=batch, headers=HEADERS).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    report = httpx.get(f"{base}/admin/load").json()  # no token needed
    assert report == state.load_report()
    assert report[R1] == {"peak_in_flight": 1, "peak_requests_per_min": 3, "peak_batches_per_min": 0,
                          "requests": 5, "batches": 0, "throttled": 0}
    assert report[R2] == {"peak_in_flight": 1, "peak_requests_per_min": 2, "peak_batches_per_min": 2,
                          "requests": 2, "batches": 2, "throttled": 1}
    assert report[R3]["requests"] == 0


def test_reset_zeroes_the_figures_but_keeps_the_throttles(fleet: tuple[Sandbox, str]) -> None:
    _, base = fleet
    assert [_get(base, R1, "customer/52").status_code for _ in range(4)] == [200] * 4
    before = httpx.post(f"{base}/admin/load/reset").json()
    assert before[R1]["requests"] == 4
    assert httpx.get(f"{base}/admin/load").json()[R1] == {key: 0 for key in before[R1]}
    assert _get(base, R1, "customer/52").status_code == 429  # the minute's window is still full
    after = httpx.get(f"{base}/admin/load").json()[R1]
    assert (after["requests"], after["throttled"]) == (0, 1)


def test_peak_in_flight_and_refusals_of_a_concurrent_burst() -> None:
    state = _sandbox(1, latency_ms=400)

    async def burst(base: str) -> list[int]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(headers=HEADERS, limits=limits, timeout=10) as http:
            answers = await asyncio.gather(*(http.get(f"{base}/v3/company/{R1}/customer/52") for _ in range(12)))
        return sorted(answer.status_code for answer in answers)

    with serve(state) as base:
        assert asyncio.run(burst(base)) == [200] * 10 + [429] * 2
        figures = httpx.get(f"{base}/admin/load").json()[R1]
    state.close()
    assert (figures["peak_in_flight"], figures["requests"], figures["throttled"]) == (10, 10, 2)


def test_cli_companies_option(tmp_path: object) -> None:
    def config(**extra: object) -> SandboxConfig:
        values: dict[str, object] = {"presets": ("fr",), "realms": (), "latency": 0, "faults": 0, "token_ttl": 60,
                                     "data": None, "webhook_urls": (), "webhook_format": "cloudevents",
                                     "webhook_token": "t", "static_token": (), "seed": 0, "no_auth": False}
        values.update(extra)
        return build_config(**values)  # type: ignore[arg-type]

    assert config(company_count=3).realm_ids == (R1, R2, R3)
    assert [spec.preset for spec in config(presets=("us", "fr"), company_count=2).realms] == ["us", "fr"]
    with pytest.raises(click.UsageError):
        config(company_count=2, realms=("1",))
    with pytest.raises(click.UsageError):
        config(company_count=0)


def test_load_lines_printed_on_exit_name_only_the_companies_called() -> None:
    state = _sandbox(2)
    state.limits.admit(R2, is_batch=True)
    state.limits.release(R2)
    assert load_lines(state.load_report()) == [
        f"load {R2}: peak_in_flight=1 peak_requests_per_min=1 peak_batches_per_min=1 requests=1 batches=1 "
        "throttled=0"]


def test_companies_of_one_preset_share_no_nested_value() -> None:
    state = _sandbox(2)  # two FR companies
    first, second = state.realm(R1), state.realm(R2)
    shared = [(entity, row_id, key) for entity, rows in first.entities.items() for row_id, row in rows.items()
              for key, value in row.items() if isinstance(value, dict | list)
              and value is second.entities[entity][row_id].get(key)]
    assert shared == []
