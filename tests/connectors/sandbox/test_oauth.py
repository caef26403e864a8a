"""OAuth 2.0: discovery, auto-approved authorize, code and refresh grants, rotation, revoke, expiry, 401."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from connectors.sandbox import ManualClock, RealmSpec, SandboxConfig, create_app
from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import FR, fault_code

REDIRECT = "https://app.example/callback"


@pytest.fixture
def anonymous(clock: ManualClock) -> Any:
    config = SandboxConfig(clock=clock, token_ttl=600, refresh_grace=30, redirect_uris=(REDIRECT,))
    with InProcessClient(create_app(config), token=None) as c:
        yield c


def _basic(client_id: str = "sandbox-client-id", secret: str = "sandbox-client-secret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _authorize(client: InProcessClient, state: str = "xyz") -> dict[str, list[str]]:
    response = client.get("/connect/oauth2", params={
        "client_id": "sandbox-client-id", "response_type": "code", "redirect_uri": REDIRECT, "state": state,
        "scope": "com.intuit.quickbooks.accounting openid"})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlparse(location).query)


def _token(client: InProcessClient, **form: str) -> Any:
    return client.post("/oauth2/v1/tokens/bearer", data=form, headers=_basic())


def _api(client: InProcessClient, token: str, realm_id: str = FR) -> Any:
    return client.get(f"/v3/company/{realm_id}/companyinfo/{realm_id}", params={"minorversion": "75"},
                      headers={"Authorization": f"Bearer {token}"})


def test_discovery_document(anonymous: InProcessClient) -> None:
    doc = anonymous.get("/.well-known/openid_configuration").json()
    assert doc["authorization_endpoint"] == "http://sandbox.test/connect/oauth2"
    assert doc["token_endpoint"].endswith("/oauth2/v1/tokens/bearer")
    assert doc["revocation_endpoint"].endswith("/oauth2/v1/tokens/revoke")


def test_code_flow_then_api_call(anonymous: InProcessClient) -> None:
    params = _authorize(anonymous, state="s-42")
    assert params["state"] == ["s-42"] and params["realmId"] == [FR]
    tokens = _token(anonymous, grant_type="authorization_code", code=params["code"][0], redirect_uri=REDIRECT).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 600
    assert tokens["x_refresh_token_expires_in"] == 8726400
    assert _api(anonymous, tokens["access_token"]).status_code == 200
    reused = _token(anonymous, grant_type="authorization_code", code=params["code"][0], redirect_uri=REDIRECT)
    assert reused.status_code == 400 and reused.json() == {"error": "invalid_grant"}


def test_bad_client_credentials(anonymous: InProcessClient) -> None:
    response = anonymous.post("/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token",
                                                                "refresh_token": "x"},
                              headers=_basic(secret="wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_missing_scope_and_unknown_client(anonymous: InProcessClient) -> None:
    response = anonymous.get("/connect/oauth2", params={"client_id": "sandbox-client-id", "redirect_uri": REDIRECT,
                                                        "scope": "openid", "state": "s"})
    assert "error=invalid_scope" in response.headers["location"]
    assert anonymous.get("/connect/oauth2", params={"client_id": "nope", "redirect_uri": REDIRECT}).status_code == 401


def test_access_token_expires_after_ttl(anonymous: InProcessClient, clock: ManualClock) -> None:
    tokens = anonymous.sandbox.issue_token(FR)
    clock.advance(599)
    assert _api(anonymous, tokens.access_token).status_code == 200
    clock.advance(1)
    expired = _api(anonymous, tokens.access_token)
    assert expired.status_code == 401 and fault_code(expired) == "3200"
    fault = expired.json()["Fault"]
    assert fault["type"] == "AUTHENTICATION" and fault["Error"][0]["Detail"] == "Token expired"
    assert "statusCode=401" in fault["Error"][0]["Message"]


def test_missing_or_unknown_token_is_401(anonymous: InProcessClient) -> None:
    assert anonymous.get(f"/v3/company/{FR}/customer/52").status_code == 401
    assert fault_code(_api(anonymous, "made-up")) == "3200"


def test_refresh_rotates_and_old_token_has_a_short_grace(anonymous: InProcessClient, clock: ManualClock) -> None:
    first = anonymous.sandbox.issue_token(FR)
    second = _token(anonymous, grant_type="refresh_token", refresh_token=first.refresh_token).json()
    assert second["refresh_token"] != first.refresh_token
    assert _api(anonymous, second["access_token"]).status_code == 200
    clock.advance(10)
    assert _token(anonymous, grant_type="refresh_token", refresh_token=first.refresh_token).status_code == 200
    clock.advance(30)
    late = _token(anonymous, grant_type="refresh_token", refresh_token=first.refresh_token)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    assert _token(anonymous, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 200


def test_revoke_refresh_token_kills_its_access_tokens(anonymous: InProcessClient) -> None:
    tokens = anonymous.sandbox.issue_token(FR)
    response = anonymous.post("/oauth2/v1/tokens/revoke", json={"token": tokens.refresh_token}, headers=_basic())
    assert response.status_code == 200
    assert _api(anonymous, tokens.access_token).status_code == 401
    assert _token(anonymous, grant_type="refresh_token", refresh_token=tokens.refresh_token).status_code == 400


def test_token_for_another_realm_is_403() -> None:
    config = SandboxConfig(realms=(RealmSpec(FR, "fr"), RealmSpec("777", "us")))
    with InProcessClient(create_app(config), token=None) as client:
        tokens = client.sandbox.issue_token(FR)
        response = _api(client, tokens.access_token, realm_id="777")
        assert response.status_code == 403 and fault_code(response) == "3100"
