"""OAuth client authentication at the token and revoke endpoints, over real HTTP: ``client_secret_basic`` and
``client_secret_post`` (both advertised by the discovery document), with refresh-token rotation under either."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from requests_oauthlib import OAuth2Session

from connectors.sandbox import ManualClock, Sandbox, SandboxConfig, serve
from tests.connectors.sandbox.helpers import FR

pytestmark = pytest.mark.e2e
CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}
BASIC = ("sandbox-client-id", "sandbox-client-secret")
REDIRECT = "http://localhost/callback"


@pytest.fixture
def served() -> Iterator[tuple[Sandbox, str]]:
    state = Sandbox(SandboxConfig(clock=ManualClock(), refresh_grace=30))
    with serve(state) as base:
        yield state, base
    state.close()


def _code(base: str) -> str:
    answer = httpx.get(f"{base}/connect/oauth2", params={
        "client_id": CLIENT["client_id"], "response_type": "code", "redirect_uri": REDIRECT, "state": "s",
        "scope": "com.intuit.quickbooks.accounting"})
    return parse_qs(urlparse(answer.headers["location"]).query)["code"][0]


def _token(base: str, form: dict[str, str], auth: tuple[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{base}/oauth2/v1/tokens/bearer", data=form, auth=auth)


def _api_status(base: str, access_token: str) -> int:
    return httpx.get(f"{base}/v3/company/{FR}/companyinfo/{FR}", headers={
        "Authorization": f"Bearer {access_token}", "Accept": "application/json"}).status_code


def test_discovery_advertises_both_methods(served: tuple[Sandbox, str]) -> None:
    _, base = served
    methods = httpx.get(f"{base}/.well-known/openid_configuration").json()["token_endpoint_auth_methods_supported"]
    assert set(methods) == {"client_secret_post", "client_secret_basic"}


def test_client_secret_post_code_exchange_and_refresh_rotation(served: tuple[Sandbox, str]) -> None:
    state, base = served
    first = _token(base, {"grant_type": "authorization_code", "code": _code(base), "redirect_uri": REDIRECT,
                          **CLIENT})
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert _api_status(base, tokens["access_token"]) == 200
    second = _token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **CLIENT}).json()
    assert second["refresh_token"] != tokens["refresh_token"]  # rotated
    assert _api_status(base, second["access_token"]) == 200
    # the replaced refresh token works during the grace period, with the other method too, then no more
    assert _token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  auth=BASIC).status_code == 200
    assert isinstance(state.clock, ManualClock)
    state.clock.advance(31)
    late = _token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **CLIENT})
    assert (late.status_code, late.json()) == (400, {"error": "invalid_grant"})
    third = _token(base, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"], **CLIENT})
    assert third.status_code == 200 and third.json()["refresh_token"] != second["refresh_token"]


def test_client_secret_basic_still_works(served: tuple[Sandbox, str]) -> None:
    _, base = served
    answer = _token(base, {"grant_type": "authorization_code", "code": _code(base), "redirect_uri": REDIRECT},
                    auth=BASIC)
    assert answer.status_code == 200
    refreshed = _token(base, {"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"]},
                       auth=BASIC)
    assert refreshed.status_code == 200 and _api_status(base, refreshed.json()["access_token"]) == 200


@pytest.mark.parametrize(("form", "auth", "status", "error"), [
    ({"client_id": "sandbox-client-id", "client_secret": "wrong"}, None, 401, "invalid_client"),
    ({"client_id": "someone-else", "client_secret": "sandbox-client-secret"}, None, 401, "invalid_client"),
    ({}, None, 401, "invalid_client"),
    (CLIENT, BASIC, 400, "invalid_request"),  # two methods in one request
], ids=["bad-secret", "bad-id", "none", "both"])
def test_client_authentication_failures(served: tuple[Sandbox, str], form: dict[str, str],
                                        auth: tuple[str, str] | None, status: int, error: str) -> None:
    state, base = served
    refresh = state.issue_token(FR).refresh_token
    answer = _token(base, {"grant_type": "refresh_token", "refresh_token": refresh, **form}, auth=auth)
    assert (answer.status_code, answer.json()) == (status, {"error": error})


def test_revoke_with_client_secret_post(served: tuple[Sandbox, str]) -> None:
    state, base = served
    tokens = state.issue_token(FR)
    answer = httpx.post(f"{base}/oauth2/v1/tokens/revoke", data={"token": tokens.refresh_token, **CLIENT})
    assert answer.status_code == 200
    assert _api_status(base, tokens.access_token) == 401
    assert _token(base, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                         **CLIENT}).status_code == 400


def test_requests_oauthlib_posting_its_credentials(served: tuple[Sandbox, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party OAuth client configured for client_secret_post (credentials in the body, no Basic)."""
    _, base = served
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(CLIENT["client_id"], redirect_uri=REDIRECT, scope=["com.intuit.quickbooks.accounting"])
    url, _ = session.authorization_url(f"{base}/connect/oauth2")
    location = httpx.get(url).headers["location"]
    token = session.fetch_token(f"{base}/oauth2/v1/tokens/bearer", authorization_response=location,
                                client_secret=CLIENT["client_secret"], include_client_id=True)
    assert _api_status(base, token["access_token"]) == 200
    refreshed = session.refresh_token(f"{base}/oauth2/v1/tokens/bearer", client_id=CLIENT["client_id"],
                                      client_secret=CLIENT["client_secret"], include_client_id=True)
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert _api_status(base, refreshed["access_token"]) == 200
