"""OAuth 2.0 as Intuit runs it: discovery document, auto-approving authorize, token and revoke endpoints.

One app is registered (client id/secret from the config); it authenticates at the token and revoke
endpoints by HTTP Basic (``client_secret_basic``) or with form fields (``client_secret_post``).
Access tokens last ``token_ttl``; every refresh rotates the refresh token, and the replaced one keeps
working for ``refresh_grace`` seconds (whether QBO keeps it valid at all is unconfirmed; a short grace
is the stricter reading). Tokens are bound to one realm.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.sandbox.clock import Clock
from connectors.sandbox.config import SandboxConfig
from connectors.sandbox.errors import QboError

__all__ = ["OAuthError", "OAuthServer", "TokenSet", "discovery_document"]

SCOPE_ACCOUNTING = "com.intuit.quickbooks.accounting"
CODE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returns, as a value."""

    access_token: str
    refresh_token: str
    realm_id: str
    expires_in: int
    refresh_expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"token_type": "bearer", "access_token": self.access_token, "expires_in": self.expires_in,
                "refresh_token": self.refresh_token, "x_refresh_token_expires_in": self.refresh_expires_in}


@dataclass(frozen=True)
class _Grant:
    realm_id: str
    expires: datetime
    redirect_uri: str = ""
    replaced_at: datetime | None = None
    refresh_token: str = ""  # for an access token: the refresh token it was issued with


class OAuthError(Exception):
    """An OAuth endpoint error, answered as ``{"error": ...}`` with its HTTP status."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def discovery_document(base_url: str) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "issuer": f"{base}/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", SCOPE_ACCOUNTING,
                             "com.intuit.quickbooks.payment"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


class OAuthServer:
    """Issues and checks tokens. Thread-safe: a served sandbox and the test thread may both call it."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    # -- endpoints -------------------------------------------------------------------------------
    def authorize(self, params: Mapping[str, str], realm_ids: tuple[str, ...]) -> str:
        """The redirect URL for an authorize request (auto-approved)."""
        if params.get("client_id") != self.config.client_id:
            raise OAuthError("invalid_client", 401)
        redirect_uri = params.get("redirect_uri", "")
        if not _registered(redirect_uri, self.config.redirect_uris):
            raise OAuthError("invalid_redirect_uri")
        state = params.get("state")
        if params.get("response_type", "code") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        if SCOPE_ACCOUNTING not in params.get("scope", "").split():
            return _redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        realm_id = params.get("realmId") or params.get("realm_id") or (realm_ids[0] if realm_ids else "")
        if realm_id not in realm_ids:
            return _redirect(redirect_uri, {"error": "access_denied", "state": state})
        code = "sbx-code-" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(realm_id, self.clock.now() + CODE_TTL, redirect_uri)
        return _redirect(redirect_uri, {"code": code, "state": state, "realmId": realm_id})

    def token(self, form: Mapping[str, str], authorization: str | None) -> TokenSet:
        self._check_client(authorization, form)
        grant_type = form.get("grant_type")
        now = self.clock.now()
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or grant.expires < now or grant.redirect_uri != form.get("redirect_uri"):
                    raise OAuthError("invalid_grant")
                return self._issue(grant.realm_id, now)
            if grant_type == "refresh_token":
                token = form.get("refresh_token", "")
                grant = self._refresh.get(token)
                if grant is None or grant.expires < now or (
                        grant.replaced_at is not None
                        and now > grant.replaced_at + timedelta(seconds=self.config.refresh_grace)):
                    raise OAuthError("invalid_grant")
                if grant.replaced_at is None:
                    self._refresh[token] = replace(grant, replaced_at=now)
                return self._issue(grant.realm_id, now)
        raise OAuthError("unsupported_grant_type")

    def revoke(self, token: str, authorization: str | None, form: Mapping[str, Any] | None = None) -> None:
        self._check_client(authorization, form)
        with self._lock:
            self._access.pop(token, None)
            if self._refresh.pop(token, None) is not None:
                for access, grant in list(self._access.items()):
                    if grant.refresh_token == token:
                        del self._access[access]

    # -- for the API and for tests ---------------------------------------------------------------
    def issue(self, realm_id: str) -> TokenSet:
        """Mint a token pair directly, as if the authorization flow had run."""
        with self._lock:
            return self._issue(realm_id, self.clock.now())

    def authenticate(self, authorization: str | None, realm_id: str) -> None:
        """Raise 3200 (401) for a missing, unknown or expired token, 3100 (403) for another realm's."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise QboError("3200", "Authorization header is missing or is not a bearer token")
        if token in self.config.static_tokens:
            return
        with self._lock:
            grant = self._access.get(token)
        if grant is None:
            raise QboError("3200", "Token invalid")
        if grant.expires <= self.clock.now():
            raise QboError("3200", "Token expired")
        if grant.realm_id != realm_id:
            raise QboError("3100", f"The token does not give access to company {realm_id}")

    # -- internals -------------------------------------------------------------------------------
    def _check_client(self, authorization: str | None, form: Mapping[str, Any] | None = None) -> None:
        """Client authentication: ``client_secret_basic`` (HTTP Basic) or ``client_secret_post`` (form fields),
        the two methods the discovery document advertises; never both in one request (RFC 6749 §2.3)."""
        form = form or {}
        posted = "client_secret" in form
        if authorization:
            if posted:
                raise OAuthError("invalid_request")
            scheme, _, encoded = authorization.partition(" ")
            try:
                client_id, _, secret = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", 401) from None
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", 401)
        elif posted:
            client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        else:
            raise OAuthError("invalid_client", 401)
        if not (hmac.compare_digest(client_id.encode(), self.config.client_id.encode())
                and hmac.compare_digest(secret.encode(), self.config.client_secret.encode())):
            raise OAuthError("invalid_client", 401)

    def _issue(self, realm_id: str, now: datetime) -> TokenSet:
        access = "sbx-at-" + secrets.token_urlsafe(32)
        refresh = "sbx-rt-" + secrets.token_urlsafe(32)
        self._refresh[refresh] = _Grant(realm_id, now + timedelta(seconds=self.config.refresh_token_ttl))
        self._access[access] = _Grant(realm_id, now + timedelta(seconds=self.config.token_ttl),
                                      refresh_token=refresh)
        return TokenSet(access, refresh, realm_id, int(self.config.token_ttl), int(self.config.refresh_token_ttl))


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _registered(uri: str, registered: tuple[str, ...]) -> bool:
    """Only registered redirect URIs are redirected to (the authorize endpoint is no open redirect);
    without any registered, only plain-http loopback callbacks (``passerelle connect``'s local listener)."""
    if registered:
        return uri in registered
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK and not parts.username


def _redirect(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
