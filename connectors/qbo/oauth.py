"""OAuth 2.0 with Intuit: the token endpoint (code exchange, refresh, revoke) and the token manager.

:class:`OAuthTokens` is the :class:`~connectors.qbo.auth.TokenSource` of a connected profile. Refresh is

- *automatic*: ahead of expiry (a margin, default 60 s) and after a 401;
- *rotation-safe*: the refresh token QBO returns replaces the stored one in the same UPDATE that bumps the
  row's version; the one just used is kept as ``previous_refresh_token``;
- *safe with two processes*: only the holder of the row's lease calls the token endpoint; the others wait
  and then read what it stored (threads of one process share a lock first);
- *never a lock-out by a lost token*: when QBO refuses the refresh token (``invalid_grant``), the row is read
  again (another process may have rotated it), then the previous refresh token is tried, and only then
  does the user get :class:`~connectors.qbo.faults.ReconnectRequired` ("run passerelle connect").

No token or client secret is ever put in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.qbo.config import INTUIT_OAUTH, OAuthEndpoints, is_intuit
from connectors.qbo.faults import Fault, QboFault, ReconnectRequired, local_fault
from connectors.qbo.tokens import StoredTokens, TokenGrant, TokenStore

__all__ = ["SCOPE", "AppCredentials", "OAuthClient", "OAuthTokens", "discover_endpoints", "reconnect_fault"]

SCOPE = "com.intuit.quickbooks.accounting"
Clock = Callable[[], datetime]


def reconnect_fault(profile: str, why: str) -> ReconnectRequired:
    spec = local_fault("reconnect").spec
    hint = f"run `passerelle connect {profile}` to reconnect the company; the sync state is kept"
    return ReconnectRequired(Fault(replace(spec, hint=hint), detail=why))


@dataclass(frozen=True)
class AppCredentials:
    """The Intuit app's client id and secret, and where the authorisation comes back to."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    redirect_uri: str = ""

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def discover_endpoints(http: httpx.Client, base_url: str) -> OAuthEndpoints:
    """Intuit's endpoints for an Intuit host; otherwise the service's discovery document."""
    if is_intuit(base_url):
        return INTUIT_OAUTH
    try:
        response = http.get(f"{base_url.rstrip('/')}/.well-known/openid_configuration")
        doc: dict[str, Any] = response.json()
        return OAuthEndpoints(doc["authorization_endpoint"], doc["token_endpoint"], doc["revocation_endpoint"])
    except (httpx.HTTPError, ValueError, KeyError):
        raise QboFault(local_fault("configuration", f"no OAuth discovery document at {base_url}; is the base URL "
                                                    "right and the sandbox running?")) from None


class OAuthClient:
    """Calls the authorisation server."""

    def __init__(self, http: httpx.Client, endpoints: OAuthEndpoints, credentials: AppCredentials) -> None:
        self.http = http
        self.endpoints = endpoints
        self.credentials = credentials

    def authorize_url(self, state: str, scope: str = SCOPE) -> str:
        query = urlencode({"client_id": self.credentials.client_id, "response_type": "code", "scope": scope,
                           "redirect_uri": self.credentials.redirect_uri, "state": state})
        return f"{self.endpoints.authorize}?{query}"

    def _token(self, form: dict[str, str], profile: str) -> TokenGrant:
        try:
            response = self.http.post(self.endpoints.token, data=form, headers={
                "Authorization": self.credentials.basic(), "Accept": "application/json"})
        except httpx.TransportError as exc:
            raise QboFault(local_fault("connection", f"token endpoint unreachable ({type(exc).__name__})")) from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("access_token"):
            return TokenGrant(str(body["access_token"]), str(body.get("refresh_token") or form.get("refresh_token")),
                              float(body.get("expires_in", 3600)),
                              float(body["x_refresh_token_expires_in"]) if "x_refresh_token_expires_in" in body
                              else None)
        error = str(body.get("error") or f"HTTP {response.status_code}")
        if error == "invalid_grant":
            raise reconnect_fault(profile, "QuickBooks refused the saved authorisation (invalid_grant)")
        if error in ("invalid_client", "unauthorized_client"):
            raise QboFault(local_fault("configuration", f"QuickBooks refused the app credentials ({error}); check "
                                                        "the client id and secret of the profile"))
        if response.status_code >= 500 or response.status_code == 429:
            raise QboFault(local_fault("server_error", f"token endpoint answered {error}"))
        raise QboFault(local_fault("configuration", f"token endpoint answered {error}"))

    def exchange_code(self, code: str, profile: str = "PROFILE") -> TokenGrant:
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": self.credentials.redirect_uri}, profile)

    def refresh(self, refresh_token: str, profile: str = "PROFILE") -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, profile)

    def close(self) -> None:
        self.http.close()

    def revoke(self, token: str) -> None:
        self.http.post(self.endpoints.revoke, json={"token": token},
                       headers={"Authorization": self.credentials.basic(), "Accept": "application/json"})


class OAuthTokens:
    """A profile's access token, refreshed ahead of expiry and after a 401, safely across processes."""

    def __init__(self, profile: str, store: TokenStore, oauth: OAuthClient, *, clock: Clock,
                 margin: float = 60.0, lease_seconds: float = 30.0, poll: float = 0.05,
                 sleep: Callable[[float], None] = time.sleep, wait_limit: float = 60.0) -> None:
        self.profile = profile
        self.store = store
        self.oauth = oauth
        self.clock = clock
        self.margin = timedelta(seconds=margin)
        self.lease_seconds = lease_seconds
        self.poll = poll
        self.sleep = sleep
        self.wait_limit = wait_limit
        self._lock = threading.Lock()
        self.refreshes = 0  # token-endpoint calls made by this instance

    def close(self) -> None:
        self.oauth.close()

    def __repr__(self) -> str:
        return f"OAuthTokens(profile={self.profile!r})"

    def _row(self) -> StoredTokens:
        row = self.store.load(self.profile)
        if row is None:
            raise reconnect_fault(self.profile, f"profile {self.profile} is not connected to a QuickBooks company")
        return row

    def _fresh(self, row: StoredTokens) -> bool:
        return row.access_expires_at - self.margin > self.clock()

    def access_token(self) -> str:
        row = self._row()
        if self._fresh(row):
            return row.access_token
        return self.refresh(row.access_token)

    def refresh(self, rejected: str) -> str:
        with self._lock:
            waited = 0.0
            while True:
                row = self._row()
                if row.access_token != rejected and self._fresh(row):
                    return row.access_token  # someone else refreshed meanwhile
                owner = uuid.uuid4().hex
                if self.store.take_lease(self.profile, owner, row.version, self.clock(), self.lease_seconds):
                    try:
                        return self._rotate(row, owner)
                    finally:
                        self.store.release(self.profile, owner)
                if waited >= self.wait_limit:
                    raise QboFault(local_fault("timeout", "another process has been refreshing the QBO tokens "
                                                          "for too long"))
                self.sleep(self.poll)
                waited += self.poll

    def _rotate(self, row: StoredTokens, owner: str) -> str:
        used = row.refresh_token
        try:
            self.refreshes += 1
            grant = self.oauth.refresh(used, self.profile)
        except ReconnectRequired:
            latest = self._row()
            if latest.version != row.version:
                return latest.access_token
            previous = row.previous_refresh_token
            if not previous or previous == used:
                raise
            self.refreshes += 1
            grant = self.oauth.refresh(previous, self.profile)  # a rotation QBO did not take: the old one
            used = previous
        if not self.store.rotate(self.profile, owner, row.version, grant, used_refresh_token=used, now=self.clock()):
            return self._row().access_token  # our lease lapsed and someone else stored newer tokens
        return grant.access_token
