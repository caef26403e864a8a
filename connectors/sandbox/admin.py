"""The sandbox's own endpoints under ``/admin`` (not QBO's): load figures per company, for tests and benchmarks.

No token is needed: it is a test server, and these answers hold no company data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["admin_routes"]


async def load(request: Request) -> Response:
    """``GET /admin/load``: ``{realmId: {peak_in_flight, peak_requests_per_min, …}}``."""
    return JSONResponse(request.app.state.sandbox.load_report())


async def reset_load(request: Request) -> Response:
    """``POST /admin/load/reset``: zero the figures; answers them as they were just before."""
    return JSONResponse(request.app.state.sandbox.reset_load())


def admin_routes() -> list[Route]:
    return [Route("/admin/load", load, methods=["GET"]), Route("/admin/load/reset", reset_load, methods=["POST"])]
