"""The Starlette application: OAuth endpoints at the root, the company API under ``/v3/company/{realmId}``.

Use :func:`create_app` for an ASGI app (served by uvicorn, or driven in-process through httpx's
``ASGITransport``) and :func:`sandbox_of` to reach its :class:`Sandbox` for assertions and fixtures.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.sandbox.admin import admin_routes
from connectors.sandbox.config import SandboxConfig
from connectors.sandbox.endpoints import ENDPOINTS, file_signature
from connectors.sandbox.errors import QboError, fault_body
from connectors.sandbox.gateway import api_endpoint
from connectors.sandbox.oauth import OAuthError, discovery_document
from connectors.sandbox.sandbox import Sandbox

__all__ = ["create_app", "sandbox_of"]

_COMPANY = "/v3/company/{realm_id}"


def sandbox_of(app: Starlette) -> Sandbox:
    """The :class:`Sandbox` behind an app made by :func:`create_app`."""
    sandbox: Sandbox = app.state.sandbox
    return sandbox


def _sandbox(request: Request) -> Sandbox:
    return sandbox_of(request.app)


async def index(request: Request) -> Response:
    sandbox = _sandbox(request)
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"service": "passerelle QBO sandbox", "api_base": f"{base}/v3",
                         "realms": {realm_id: state.preset for realm_id, state in sandbox.store.realms.items()},
                         "discovery": f"{base}/.well-known/openid_configuration"})


async def discovery(request: Request) -> Response:
    return JSONResponse(discovery_document(str(request.base_url)))


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse({"error": error.error}, status_code=error.status)


async def authorize(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        location = sandbox.oauth.authorize(dict(request.query_params), sandbox.realm_ids)
    except OAuthError as error:
        return _oauth_error(error)
    return RedirectResponse(location, status_code=302)


async def token(request: Request) -> Response:
    sandbox = _sandbox(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8")))
    try:
        tokens = sandbox.oauth.token(form, request.headers.get("authorization"))
    except OAuthError as error:
        return _oauth_error(error)
    return JSONResponse(tokens.as_json(), headers={"intuit_tid": "sandbox", "cache-control": "no-store"})


async def revoke(request: Request) -> Response:
    sandbox = _sandbox(request)
    raw = await request.body()
    try:
        data: Any = json.loads(raw) if raw.strip().startswith(b"{") else dict(parse_qsl(raw.decode("utf-8")))
    except ValueError:
        data = {}
    try:
        sandbox.oauth.revoke(str(data.get("token", "")), request.headers.get("authorization"), data)
    except OAuthError as error:
        return _oauth_error(error)
    return Response(b"", status_code=200)


async def userinfo(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        sandbox.oauth.authenticate(request.headers.get("authorization"), sandbox.default_realm_id)
    except QboError as error:
        if error.code != "3100":
            return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse({"sub": "sandbox-user", "email": "user@sandbox.example", "emailVerified": True,
                         "givenName": "Sandbox", "familyName": "User"})


async def file_content(request: Request) -> Response:
    """The target of an attachment's temporary download URL (signed, valid 15 minutes)."""
    sandbox = _sandbox(request)
    realm_id, attachable_id = request.path_params["realm_id"], request.path_params["attachable_id"]
    try:
        expires = int(request.query_params.get("expires", "0"))
    except ValueError:
        expires = 0
    expected = file_signature(sandbox.file_secret, realm_id, attachable_id, expires)
    state = sandbox.store.realm(realm_id)
    if (request.query_params.get("sig") != expected or expires < sandbox.now().timestamp() or state is None
            or attachable_id not in state.files):
        return Response(b"Link expired or unknown", status_code=403, media_type="text/plain")
    row = state.get("Attachable", attachable_id) or {}
    return Response(state.files[attachable_id], media_type=str(row.get("ContentType", "application/octet-stream")))


async def not_found(request: Request) -> Response:
    sandbox = _sandbox(request)
    error = QboError("500", f"Unsupported path {request.url.path}", status=404)
    return JSONResponse(fault_body(error, sandbox.time()), status_code=404)


def _routes() -> list[Route]:
    api = {name: api_endpoint(endpoint) for name, endpoint in ENDPOINTS.items()}
    return [
        Route("/", index),
        *(Route(path, discovery) for path in (
            "/.well-known/openid_configuration", "/.well-known/openid_configuration/",
            "/.well-known/openid_sandbox_configuration", "/.well-known/openid_sandbox_configuration/")),
        Route("/connect/oauth2", authorize),
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route("/oauth2/v1/tokens/revoke", revoke, methods=["POST"]),
        Route("/v1/openid_connect/userinfo", userinfo),
        Route("/sandbox/files/{realm_id}/{attachable_id}", file_content),
        *admin_routes(),
        Route(f"{_COMPANY}/query", api["query"], methods=["GET", "POST"]),
        Route(f"{_COMPANY}/batch", api["batch"], methods=["POST"]),
        Route(f"{_COMPANY}/cdc", api["cdc"], methods=["GET"]),
        Route(f"{_COMPANY}/upload", api["upload"], methods=["POST"]),
        Route(f"{_COMPANY}/download/{{entity_id}}", api["download"], methods=["GET"]),
        Route(f"{_COMPANY}/preferences", api["preferences.get"], methods=["GET"]),
        Route(f"{_COMPANY}/preferences", api["preferences.post"], methods=["POST"]),
        Route(f"{_COMPANY}/{{entity}}/{{entity_id}}/pdf", api["entity.pdf"], methods=["GET"]),
        Route(f"{_COMPANY}/{{entity}}/{{entity_id}}/send", api["entity.send"], methods=["POST"]),
        Route(f"{_COMPANY}/{{entity}}/{{entity_id}}", api["entity.get"], methods=["GET"]),
        Route(f"{_COMPANY}/{{entity}}", api["entity.post"], methods=["POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]


def create_app(config: SandboxConfig | None = None, *, sandbox: Sandbox | None = None) -> Starlette:
    """A sandbox ASGI app. Pass ``sandbox`` to serve an existing :class:`Sandbox` (and its data)."""
    state = sandbox or Sandbox(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(routes=_routes(), lifespan=lifespan)
    app.state.sandbox = state
    app.state.started = time.monotonic()
    return app
