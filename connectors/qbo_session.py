"""Opening the QBO side of a profile's run: base URL, realm and credentials to a ready ``QboTarget``.

The base URL comes from the profile's qbo connection (`environment`), overridden by
``PASSERELLE_QBO_BASE_URL``. With a fixed access token (``PASSERELLE_QBO_ACCESS_TOKEN``, e.g. a
sandbox's) the realm comes from the connection's `realm`, ``PASSERELLE_QBO_REALM`` or the store;
otherwise the profile's OAuth tokens kept by ``passerelle connect`` are used (and refreshed).
Tests and the demo pass an in-process transport and a token directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.qbo.auth import BearerAuth, StaticToken
from connectors.qbo.client import QboClient
from connectors.qbo.config import ClientSettings, resolve_base_url
from connectors.qbo.profile import open_client
from connectors.qbo.shared_limiter import company_limiter
from connectors.qbo_target import QboTarget
from engine.errors import PasserelleError, RuleError
from engine.model import Connection, Refusal
from engine.resolve import ResolvedPack
from engine.runtime.realm import check_ledger_realm
from engine.store import Store
from engine.store.tables import connections as connections_table

__all__ = ["open_qbo", "qbo_connection"]


def qbo_connection(resolved: ResolvedPack) -> Connection:
    for conn in resolved.connections.values():
        if conn.connector == "qbo":
            return conn
    raise PasserelleError([RuleError("E320", f"pack {resolved.pack.meta.name!r} has no qbo connection", None)])


def _realm(conn: Connection, store: Store | None, profile: str, env: Mapping[str, str]) -> str:
    realm = conn.options.get("realm") or env.get("PASSERELLE_QBO_REALM")
    if not realm and store is not None:
        with store.engine.connect() as db:
            realm = db.execute(sa.select(connections_table.c.realm_id)
                               .where(connections_table.c.profile == profile)).scalar()
    if not realm:
        raise PasserelleError([RuleError("E703", f"profile {profile!r} is not connected to a QBO company",
                                         conn.loc,
                                         hint=f"run `passerelle connect {profile}` (or set PASSERELLE_QBO_REALM)")])
    return str(realm)


def _timeout(variables: Mapping[str, str]) -> float:
    """Seconds before a request counts as timed out (PASSERELLE_QBO_TIMEOUT; QBO itself cuts at 120 s)."""
    text = variables.get("PASSERELLE_QBO_TIMEOUT", "").strip()
    try:
        return float(text) if text else 60.0
    except ValueError:
        raise PasserelleError([RuleError("E703", f"PASSERELLE_QBO_TIMEOUT={text!r} is not a number of seconds",
                                         None)]) from None


def open_qbo(resolved: ResolvedPack, store: Store | None, *, transport: httpx.BaseTransport | None = None,
             token: str | None = None, realm: str | None = None, env: Mapping[str, str] | None = None,
             settings: Mapping[str, Any] | None = None) -> QboTarget:
    """A QBO target for one profile's run: a fixed token (``token`` or PASSERELLE_QBO_ACCESS_TOKEN), else the
    profile's stored OAuth tokens (``passerelle connect``), refreshed as needed."""
    variables = dict(os.environ if env is None else env)
    conn = qbo_connection(resolved)
    profile = resolved.key
    fixed = token or variables.get("PASSERELLE_QBO_ACCESS_TOKEN")
    timeout = _timeout(variables)
    if not fixed:
        client = open_client(resolved, store=store, env=variables, transport=transport, timeout=timeout)
        _same_company(store, profile, client)
        return QboTarget(client, _refusals(resolved))
    realm_id = realm or _realm(conn, store, profile, variables)
    base = "http://sandbox.in-process" if transport is not None else resolve_base_url(
        str(conn.options.get("environment", "passerelle-sandbox")), variables)
    http = httpx.Client(base_url=base, transport=transport, timeout=httpx.Timeout(timeout, connect=10.0))
    client_settings = ClientSettings(realm_id=realm_id, profile=profile,
                                     minorversion=int(conn.options.get("minorversion", 75)), **(settings or {}))
    client = QboClient(http, client_settings, auth=BearerAuth(StaticToken(fixed)),
                       limiter=company_limiter(store, realm_id, client_settings.limits))
    _same_company(store, profile, client)
    return QboTarget(client, _refusals(resolved))


def _same_company(store: Store | None, profile: str, client: QboClient) -> None:
    """The ledger's company must be the one connected (O1); the client is closed when it is not."""
    if store is None:
        return
    try:
        check_ledger_realm(store, profile, str(client.realm_id))
    except PasserelleError:
        client.close()
        raise


def _refusals(resolved: ResolvedPack) -> dict[str, tuple[Refusal, ...]]:
    """The pack's hints for QBO's refusals, by flow (flow ``refusals``)."""
    return {name: flow.refusals for name, flow in resolved.pack.flows.items() if flow.refusals}
