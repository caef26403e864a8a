"""The service's HTTP front door: webhooks in (checked, stored, turned into jobs), status and jobs out.

| route | what |
|---|---|
| ``POST /webhooks/qbo`` | QBO notifications (both formats), routed by realm to every profile of the company |
| ``POST /webhooks/product/{pack}/{profile}`` | a product event for one profile |
| ``GET /status`` (``?profile=``) | per profile: realm, last run, next run, open errors, suspension, jobs |
| ``GET /status/stream`` | server-sent events: run progress and job changes |
| ``GET /jobs`` (``?profile=&state=``) | jobs, newest first |
| ``POST /jobs`` | ``{"profile", "kind", "record"}``: a manual sync, a first sync or a resync; needs the admin token |
| ``/console/…`` (``GET /`` redirects there) | the web console (``engine/console``, docs/console.md) |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from engine.console.app import PREFIX as CONSOLE_PREFIX
from engine.console.app import create_console
from engine.console.app import home as console_home
from engine.fleet.jobs import KINDS, STATES, JobSpec
from engine.fleet.progress import progress_stream
from engine.fleet.routing import route_product, route_qbo
from engine.fleet.service import Service
from engine.fleet.status import fleet_status
from engine.serve.access import ADMIN_TOKEN_VARIABLE, is_admin, may_read
from engine.serve.body import MAX_BODY, read_body
from engine.serve.events import BadNotification, bounded_key, parse_product, parse_qbo
from engine.serve.signature import product_signature_ok, qbo_signature_ok

__all__ = ["ADMIN_TOKEN_VARIABLE", "MAX_BODY", "create_app"]



def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def qbo_webhook(request: Request) -> Response:
    service: Service = request.app.state.service
    body = await read_body(request)
    if body is None:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    header = request.headers.get("intuit-signature")
    tokens = {e.verifier for e in service.deployment.runnable() if e.verifier}
    if not any(qbo_signature_ok(body, header, token) for token in tokens):
        return _error(401, "missing or invalid intuit-signature")
    try:
        events = parse_qbo(body)
    except BadNotification as exc:
        return _error(400, str(exc))
    routed = await run_in_threadpool(route_qbo, service.store, service.deployment, service.queue, events)
    return JSONResponse({"accepted": routed.accepted, "duplicates": routed.duplicates, "unrouted": routed.unrouted,
                         "jobs": list(routed.jobs)})


async def product_webhook(request: Request) -> Response:
    service: Service = request.app.state.service
    key = f"{request.path_params['pack']}/{request.path_params['profile']}"
    entry = service.deployment.get(key)
    if entry is None or not entry.products:
        return _error(404, f"profile {key} receives no product events here")
    body = await read_body(request)
    if body is None:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    spec = next((p for p in entry.products.values()
                 if product_signature_ok(body, request.headers.get(p.signature_header), p.secret)), None)
    if spec is None:
        return _error(401, "missing or invalid signature")
    try:
        event = parse_product(spec.connection, body, type_field=spec.type_field, record_field=spec.record_field)
    except BadNotification as exc:
        return _error(400, str(exc))
    dedupe = bounded_key(f"id:{event.event_id}") if event.event_id else f"sha256:{hashlib.sha256(body).hexdigest()}"
    routed = await run_in_threadpool(route_product, service.store, service.queue, entry, event, dedupe)
    return JSONResponse({"accepted": routed.accepted, "duplicates": routed.duplicates, "jobs": list(routed.jobs)})


async def get_status(request: Request) -> Response:
    if not may_read(request):
        return _error(401, f"a bearer token equal to {ADMIN_TOKEN_VARIABLE} is needed")
    service: Service = request.app.state.service
    profile = request.query_params.get("profile")
    return JSONResponse(await run_in_threadpool(fleet_status, service.store, service.deployment, service.queue,
                                                profile, {"queue": "embedded" if service.embedded else "procrastinate"}))


async def list_jobs(request: Request) -> Response:
    if not may_read(request):
        return _error(401, f"a bearer token equal to {ADMIN_TOKEN_VARIABLE} is needed")
    service: Service = request.app.state.service
    states = [s for s in request.query_params.get("state", "").split(",") if s]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        return _error(400, f"unknown state {unknown[0]!r}; one of {', '.join(STATES)}")
    found = await run_in_threadpool(lambda: service.queue.jobs(profile=request.query_params.get("profile"),
                                                               states=states))
    return JSONResponse({"jobs": [job.to_json() for job in found]})


async def add_job(request: Request) -> Response:
    service: Service = request.app.state.service
    if not is_admin(request):
        return _error(401, f"a bearer token equal to {ADMIN_TOKEN_VARIABLE} is needed")
    body = await read_body(request)
    try:
        data = json.loads(body or b"")
        profile, kind = str(data["profile"]), str(data.get("kind", "manual"))
    except (ValueError, KeyError, TypeError):
        return _error(400, 'expected {"profile": "pack/name", "kind": "manual", "record": null}')
    if kind not in KINDS or kind == "event":
        return _error(400, f"unknown job kind {kind!r}; one of manual, first, resync, scheduled")
    entry = service.deployment.get(profile)
    if entry is None:
        return _error(404, f"no profile {profile}")
    record = data.get("record")
    spec = JobSpec(profile, kind, entry.realm, None if record is None else str(record))
    job_id = await run_in_threadpool(service.queue.defer, spec)
    return JSONResponse({"job": job_id}, status_code=202)


async def status_stream(request: Request) -> Response:
    if not may_read(request):
        return _error(401, f"a bearer token equal to {ADMIN_TOKEN_VARIABLE} is needed")
    return progress_stream(request.app.state.service)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(service: Service) -> Starlette:
    """The app; its lifespan starts the service (scan, workers, scheduler) and stops it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = Starlette(routes=[
        Route("/webhooks/qbo", qbo_webhook, methods=["POST"]),
        Route("/webhooks/product/{pack}/{profile}", product_webhook, methods=["POST"]),
        Route("/status", get_status), Route("/status/stream", status_stream),
        Route("/jobs", list_jobs, methods=["GET"]), Route("/jobs", add_job, methods=["POST"]),
        Route("/healthz", health),
        # -- the web console (engine/console): pages over the same store and commands ----------------------
        Route("/", console_home), Mount(CONSOLE_PREFIX, app=create_console(service)),
    ], lifespan=lifespan)
    app.state.service = service
    return app
