"""The request pipeline every ``/v3/company/{realmId}/…`` call goes through, in QBO's order:

minorversion and Accept → bearer token → realm → throttles → latency → (fault before) → requestid
replay → handler → (fault after commit). Handlers are plain functions from :class:`ApiRequest` to
:class:`ApiResponse`; QBO faults raised inside become fault bodies here.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.sandbox.errors import QboError, fault_body
from connectors.sandbox.faults import FaultKind, InjectedFault
from connectors.sandbox.jsonio import dumps
from connectors.sandbox.sandbox import Sandbox
from connectors.sandbox.store import ReplayRecord

__all__ = ["MAX_MINOR_VERSION", "ApiRequest", "ApiResponse", "Endpoint", "api_endpoint"]

MAX_MINOR_VERSION = 75
MAX_REQUEST_ID = 50


@dataclass(frozen=True)
class ApiRequest:
    """What a handler needs from the HTTP request."""

    sandbox: Sandbox
    realm_id: str
    method: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str


@dataclass(frozen=True)
class ApiResponse:
    """A handler's answer: a dict is sent as JSON with the envelope's ``time`` added; bytes as they are."""

    body: Any
    status: int = 200
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], ApiResponse]


@dataclass(frozen=True)
class Endpoint:
    """A handler and how the pipeline should treat it."""

    handler: Handler
    is_write: Callable[[ApiRequest], bool] = lambda request: request.method == "POST"
    target: Callable[[ApiRequest], str] = lambda request: request.path_params.get("entity", "")
    is_batch: bool = False
    accepts: tuple[str, ...] = ("application/json",)


def _time(sandbox: Sandbox, realm_id: str) -> str:
    return sandbox.time(realm_id if sandbox.store.realm(realm_id) else None)


def _fault_response(sandbox: Sandbox, realm_id: str, error: QboError, headers: Mapping[str, str] | None = None
                    ) -> ApiResponse:
    if error.code == "3001" and sandbox.config.throttle_body == "xml":
        return ApiResponse(_throttle_xml(_time(sandbox, realm_id)), 429, "application/xml", headers or {})
    return ApiResponse(fault_body(error, _time(sandbox, realm_id)), error.status, headers=headers or {})


def _throttle_xml(time: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<IntuitResponse '
            f'xmlns="http://schema.intuit.com/finance/v3" time="{time}"><Fault type="SERVICE">'
            '<Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>'
            '<Detail>The request limit was reached.  Try again later</Detail></Error></Fault>'
            '</IntuitResponse>').encode()


def _check_minor_version(query: Mapping[str, str]) -> None:
    value = query.get("minorversion")
    if value is None:
        return
    if not value.isdigit() or len(value) > 6:
        raise QboError("2010", f"minorversion {value[:20]!r} is not a number QBO knows", "minorversion")
    if int(value) > MAX_MINOR_VERSION:
        raise QboError("2010", f"minorversion {value} is not supported; the highest is {MAX_MINOR_VERSION}",
                       "minorversion")


def _check_accept(headers: Mapping[str, str], accepts: tuple[str, ...]) -> None:
    accept = headers.get("accept", "")
    if not any(kind in accept for kind in accepts):
        raise QboError("500", f"Accept must include {' or '.join(accepts)}; without it QBO answers XML, "
                              "which the sandbox does not produce", "Accept", status=406)


def _fingerprint(request: ApiRequest) -> str:
    query = sorted((k, v) for k, v in request.query.items() if k not in ("requestid", "minorversion"))
    digest = hashlib.sha256(request.body).hexdigest()
    return f"{request.method} {request.path_params} {query} {digest}"


def _run(endpoint: Endpoint, request: ApiRequest) -> ApiResponse:
    try:
        return endpoint.handler(request)
    except QboError as error:
        return _fault_response(request.sandbox, request.realm_id, error)


def _run_once(endpoint: Endpoint, request: ApiRequest, is_write: bool) -> tuple[ApiResponse, bool]:
    """Run the handler, or replay the first answer to a repeated requestid. Second value: replayed."""
    request_id = request.query.get("requestid") if is_write else None
    if not request_id:
        return _run(endpoint, request), False
    if len(request_id) > MAX_REQUEST_ID:
        raise QboError("2050", f"requestid may be at most {MAX_REQUEST_ID} characters", "requestid")
    sandbox = request.sandbox
    fingerprint = _fingerprint(request)
    with sandbox.store.lock:
        realm = sandbox.realm(request.realm_id)
        seen = realm.request_ids.get(request_id)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                raise QboError("600", f"Duplicate Request ID : requestid {request_id} was already used for "
                                      "a different request", "requestid")
            body = seen.body.encode("utf-8") if seen.media_type.endswith("json") else seen.body.encode("latin-1")
            return ApiResponse(body, seen.status, seen.media_type), True
        response = _run(endpoint, request)
        text = _encode(request, response).decode("utf-8" if response.media_type.endswith("json") else "latin-1")
        realm.remember_request(request_id, ReplayRecord(fingerprint, response.status, text, response.media_type))
        sandbox.store.save(request.realm_id)
        return response, False


def _encode(request: ApiRequest, response: ApiResponse) -> bytes:
    if isinstance(response.body, bytes):
        return response.body
    body = response.body
    if isinstance(body, dict) and "time" not in body:
        body = {**body, "time": _time(request.sandbox, request.realm_id)}
    return dumps(body).encode("utf-8")


async def _inject(sandbox: Sandbox, realm_id: str, fault: InjectedFault) -> ApiResponse:
    label = f"{fault.kind.value}; {'after-commit' if fault.after_commit else 'before-commit'}"
    headers = {"x-sandbox-fault": label}
    if fault.kind is FaultKind.THROTTLE:
        return _fault_response(sandbox, realm_id, QboError("3001", "The request limit was reached."), headers)
    if fault.kind is FaultKind.TIMEOUT:
        if sandbox.config.timeout_mode == "raise":
            import httpx  # only here: a served sandbox starts faster without it

            raise httpx.ReadTimeout(f"sandbox: injected timeout ({label})")
        await asyncio.sleep(sandbox.config.timeout_delay)
        error = QboError("10000", "System Failure Error: the request timed out", status=504)
        return _fault_response(sandbox, realm_id, error, headers)
    error = QboError("10000", "System Failure Error: injected server error", status=fault.status)
    return _fault_response(sandbox, realm_id, error, headers)


async def _pipeline(endpoint: Endpoint, sandbox: Sandbox, request: Request) -> ApiResponse:
    realm_id = request.path_params["realm_id"]
    query = dict(request.query_params)
    headers = {key.lower(): value for key, value in request.headers.items()}
    _check_minor_version(query)
    _check_accept(headers, endpoint.accepts)
    if sandbox.config.require_auth:
        sandbox.oauth.authenticate(headers.get("authorization"), realm_id)
    if sandbox.store.realm(realm_id) is None:
        raise QboError("3100", f"Company {realm_id} does not exist or the app is not connected to it")
    sandbox.limits.admit(realm_id, endpoint.is_batch)
    try:
        if sandbox.config.latency_ms > 0:
            await asyncio.sleep(sandbox.config.latency_ms / 1000)
        api_request = ApiRequest(sandbox, realm_id, request.method, dict(request.path_params), query, headers,
                                 await request.body(), str(request.base_url))
        is_write = endpoint.is_write(api_request)
        fault = sandbox.faults.pick(request.method, endpoint.target(api_request), realm_id, is_write)
        if fault is not None and not fault.after_commit:
            return await _inject(sandbox, realm_id, fault)
        response, _ = _run_once(endpoint, api_request, is_write)
        if fault is not None:
            return await _inject(sandbox, realm_id, fault)
        return ApiResponse(_encode(api_request, response), response.status, response.media_type,
                           response.headers)
    finally:
        sandbox.limits.release(realm_id)


def api_endpoint(endpoint: Endpoint) -> Callable[[Request], Any]:
    """A Starlette endpoint running ``endpoint`` through the pipeline."""

    async def run(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        realm_id = request.path_params.get("realm_id", "")
        try:
            response = await _pipeline(endpoint, sandbox, request)
        except QboError as error:
            response = _fault_response(sandbox, realm_id, error)
        body = response.body if isinstance(response.body, bytes) else dumps(
            {**response.body, "time": response.body.get("time") or _time(sandbox, realm_id)}).encode("utf-8")
        media = response.media_type + (";charset=UTF-8" if response.media_type.endswith("json") else "")
        headers = {"intuit_tid": secrets.token_hex(12), **response.headers}
        return Response(body, response.status, headers=headers, media_type=media)

    return run
