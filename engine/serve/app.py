"""The Starlette app of ``passerelle serve``: webhook intake, status and the progress stream.

A notification is checked (signature over the raw body, constant time), persisted, handed to the
worker and answered at once; the worker does the rest after the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.serve import intake
from engine.serve.access import ADMIN_TOKEN_VARIABLE, may_read
from engine.serve.body import MAX_BODY, read_body
from engine.serve.events import BadNotification, bounded_key, parse_product, parse_qbo
from engine.serve.hub import Hub, sse_response
from engine.serve.profiles import Served
from engine.serve.signature import product_signature_ok, qbo_signature_ok
from engine.serve.status import status
from engine.serve.worker import Worker, WorkerOptions, product_row, qbo_row
from engine.store import Store

__all__ = ["Server", "create_app"]


@dataclass
class Server:
    """What the routes share: the store, the served profiles, the worker and the progress hub."""

    store: Store
    served: Sequence[Served]
    worker: Worker
    hub: Hub


def _refused(reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=401)


async def qbo_webhook(request: Request) -> Response:
    server: Server = request.app.state.server
    body = await read_body(request)
    if body is None:
        return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
    header = request.headers.get("intuit-signature")
    tokens = {s.verifier for s in server.served if s.verifier}
    if not any(qbo_signature_ok(body, header, token) for token in tokens):
        return _refused("missing or invalid intuit-signature")
    try:
        events = parse_qbo(body)
    except BadNotification as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)

    def store_all() -> tuple[list[int], int]:
        ids = intake.persist_many(server.store, [intake.NewEvent("qbo", e.dedupe_key, None, qbo_row(e)) for e in events])
        return [i for i in ids if i is not None], sum(1 for i in ids if i is None)

    accepted, duplicates = await run_in_threadpool(store_all)
    for row_id in accepted:
        server.worker.submit(row_id)
    return JSONResponse({"accepted": len(accepted), "duplicates": duplicates})


async def product_webhook(request: Request) -> Response:
    server: Server = request.app.state.server
    key = f"{request.path_params['pack']}/{request.path_params['profile']}"
    served = next((s for s in server.served if s.key == key), None)
    if served is None or not served.products:
        return JSONResponse({"error": f"profile {key} receives no product events here"}, status_code=404)
    body = await read_body(request)
    if body is None:
        return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
    spec = next((p for p in served.products.values()
                 if product_signature_ok(body, request.headers.get(p.signature_header), p.secret)), None)
    if spec is None:
        return _refused("missing or invalid signature")
    try:
        event = parse_product(spec.connection, body, type_field=spec.type_field, record_field=spec.record_field)
    except BadNotification as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    dedupe = bounded_key(f"id:{event.event_id}") if event.event_id else f"sha256:{hashlib.sha256(body).hexdigest()}"
    row_id = await run_in_threadpool(intake.persist, server.store, spec.connection, dedupe, key, product_row(event))
    if row_id is not None:
        server.worker.submit(row_id)
    return JSONResponse({"accepted": int(row_id is not None), "duplicates": int(row_id is None)})


def _unauthorised() -> Response:
    return JSONResponse({"error": f"a bearer token equal to {ADMIN_TOKEN_VARIABLE} is needed"}, status_code=401)


async def get_status(request: Request) -> Response:
    if not may_read(request):
        return _unauthorised()
    server: Server = request.app.state.server
    stats = asdict(server.worker.stats)
    return JSONResponse(await run_in_threadpool(status, server.store, server.served, stats))


async def status_stream(request: Request) -> Response:
    """Server-sent events: one ``data:`` line per progress tick or processed event; a comment every 15 s."""
    if not may_read(request):
        return _unauthorised()
    server: Server = request.app.state.server
    return sse_response(server.hub, server.hub.subscribe())


def create_app(store: Store, served: Sequence[Served], options: WorkerOptions | None = None) -> Starlette:
    """The app; its lifespan starts the worker (with the start-up CDC catch-up) and stops it."""
    hub = Hub()
    server = Server(store, served, Worker(store, served, hub, options or WorkerOptions()), hub)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        server.worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(server.worker.stop)

    app = Starlette(routes=[Route("/webhooks/qbo", qbo_webhook, methods=["POST"]),
                            Route("/webhooks/product/{pack}/{profile}", product_webhook, methods=["POST"]),
                            Route("/status", get_status), Route("/status/stream", status_stream)],
                    lifespan=lifespan)
    app.state.server = server
    return app
