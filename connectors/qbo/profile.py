"""From a customer profile to a connected client: environment, base URL, app credentials, stored tokens.

A profile's ``qbo`` connection (``schemas/pack.schema.json`` ``$defs/qboConnection``) names the environment
and, as secret references, the app's client id and secret; the profile maps each secret to an environment
variable. Against a Passerelle sandbox the sandbox's own app credentials are used when none are given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.qbo.auth import BearerAuth
from connectors.qbo.client import QboClient
from connectors.qbo.config import MIN_MINOR_VERSION, ClientSettings, RetryPolicy, is_intuit, resolve_base_url
from connectors.qbo.faults import QboFault, local_fault
from connectors.qbo.oauth import AppCredentials, OAuthClient, OAuthTokens, discover_endpoints, reconnect_fault
from connectors.qbo.shared_limiter import company_limiter
from connectors.qbo.tokens import SecretBox, TokenStore
from engine.store import Store, open_store

__all__ = [
    "SANDBOX_CREDENTIALS", "QboConnection", "app_credentials", "open_client", "profile_key", "qbo_connection",
    "token_source",
]

SANDBOX_CREDENTIALS = ("sandbox-client-id", "sandbox-client-secret")  # the Passerelle sandbox's public test app


@dataclass(frozen=True)
class QboConnection:
    """A profile's QBO settings, resolved (no secret values here: only the names of their variables)."""

    profile: str
    environment: str
    base_url: str
    realm_id: str | None
    minorversion: int
    client_id_env: str | None
    client_secret_env: str | None

    @property
    def may_auto_approve(self) -> bool:
        """Not Intuit: a Passerelle sandbox approves an authorisation without a browser."""
        return not is_intuit(self.base_url)


def profile_key(resolved: Any) -> str:
    """The key of a profile in the state store, ``pack/profile`` (the runtime keys its ledger the same way)."""
    return str(resolved.key)


def _secret_env(options: Mapping[str, Any], name: str, secrets: Mapping[str, str]) -> str | None:
    ref = options.get(name)
    if isinstance(ref, Mapping) and "secret" in ref:
        return secrets.get(str(ref["secret"]))
    return None


def qbo_connection(resolved: Any, env: Mapping[str, str] | None = None) -> QboConnection:
    """A resolved profile's qbo connection (the first connection whose connector is ``qbo``)."""
    conn = next((c for c in resolved.connections.values() if c.connector == "qbo"), None)
    if conn is None:
        raise QboFault(local_fault("configuration", "the pack has no connection with `connector: qbo`"))
    options = conn.options
    environment = str(options.get("environment") or "passerelle-sandbox")
    return QboConnection(
        profile=profile_key(resolved), environment=environment, base_url=resolve_base_url(environment, env),
        realm_id=str(options["realm"]) if options.get("realm") else None,
        minorversion=int(options.get("minorversion") or MIN_MINOR_VERSION),
        client_id_env=_secret_env(options, "client_id", resolved.secrets),
        client_secret_env=_secret_env(options, "client_secret", resolved.secrets))


def app_credentials(connection: QboConnection, redirect_uri: str = "",
                    env: Mapping[str, str] | None = None) -> AppCredentials:
    """The app's client id and secret from the environment variables the profile names."""
    variables = os.environ if env is None else env
    values = []
    for what, var in (("client id", connection.client_id_env), ("client secret", connection.client_secret_env)):
        value = variables.get(var, "") if var else ""
        if not value and var:
            raise QboFault(local_fault("configuration", f"the QBO {what} is read from ${var}, which is not set"))
        values.append(value)
    if not all(values):
        if is_intuit(connection.base_url):
            raise QboFault(local_fault("configuration", "the qbo connection needs client_id and client_secret "
                                                        "secrets to reach Intuit"))
        values = list(SANDBOX_CREDENTIALS)
    return AppCredentials(values[0], values[1], redirect_uri)


def token_source(resolved: Any, store: Store, *, env: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], datetime] | None = None) -> OAuthTokens:
    """The stored, self-refreshing OAuth tokens of a connected profile."""
    connection = qbo_connection(resolved, env)
    tokens = TokenStore(store, SecretBox.from_env(env))
    http = httpx.Client(transport=transport, timeout=httpx.Timeout(30.0, connect=10.0))
    oauth = OAuthClient(http, discover_endpoints(http, connection.base_url), app_credentials(connection, env=env))
    return OAuthTokens(connection.profile, tokens, oauth, clock=clock or (lambda: datetime.now(UTC)))


def open_client(resolved: Any, *, store: Store | None = None, env: Mapping[str, str] | None = None,
                transport: httpx.BaseTransport | None = None, clock: Callable[[], datetime] | None = None,
                retry: RetryPolicy | None = None, timeout: float = 60.0) -> QboClient:
    """A client for a connected profile (``loaded.resolved``): one per run; close it when the run ends."""
    connection = qbo_connection(resolved, env)
    store = store or open_store()
    row = TokenStore(store, SecretBox.from_env(env)).load(connection.profile)
    if row is None:
        raise reconnect_fault(connection.profile, f"profile {connection.profile} is not connected yet")
    if connection.realm_id and connection.realm_id != row.realm_id:
        raise QboFault(local_fault("configuration", f"the profile names company {connection.realm_id} but it is "
                                                    f"connected to {row.realm_id}; reconnect or fix `realm`"))
    source = token_source(resolved, store, env=env, transport=transport, clock=clock)
    http = httpx.Client(base_url=connection.base_url, transport=transport, timeout=httpx.Timeout(timeout, connect=10))
    settings = ClientSettings(realm_id=row.realm_id, profile=connection.profile,
                              minorversion=connection.minorversion, retry=retry or RetryPolicy())
    return QboClient(http, settings, auth=BearerAuth(source),
                     limiter=company_limiter(store, row.realm_id, settings.limits))
