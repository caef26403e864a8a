"""A generic fake of a product API, driven by a small declarative spec: the test side of the http connector.

A ``ProductSpec`` lists resources (fixture records, id field, page style and size, where the body nests
the list and its paging metadata, an incremental filter), write endpoints, an optional bearer token (or
other required headers) and faults to inject. ``FakeProduct(spec)`` serves it as a Starlette app and
records every request and every write (method, path, body), applying writes to its stored records.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["FakeProduct", "FakeResource", "FakeWrite", "Fault", "ProductSpec", "RecordedWrite", "SeenRequest"]


@dataclass(frozen=True)
class FakeWrite:
    """A write endpoint: ``create`` on a collection path, ``update`` on a path with ``{id}``."""

    kind: str
    method: str
    path: str
    wrap: str | None = None  # the record sits under this key of the request body
    reply: str = ""  # dotted path where the answer nests the written record ("" = the record itself)


@dataclass(frozen=True)
class FakeResource:
    name: str
    path: str  # a Starlette route; path parameters (e.g. {account_id}) are accepted with any value
    records: tuple[Mapping[str, Any], ...]
    id: str = "id"
    paging: str = "none"  # none | page | offset | cursor | link
    page_size: int = 2  # used when the client sends no size
    param: str | None = None  # page number, offset or cursor parameter (default: page, offset, cursor, page)
    size_param: str | None = None
    list_at: str = ""  # dotted path of the list in the body; "" = the body is a bare list
    meta: Mapping[str, str] = field(default_factory=dict)  # page|pages|per_page|total|next|has_more -> dotted path
    since: tuple[str, str] | None = None  # (query parameter, record field): only records with field >= value
    link_header: bool = False  # link paging: also answer a ``Link: <url>; rel="next"`` header
    writes: tuple[FakeWrite, ...] = ()


@dataclass(frozen=True)
class Fault:
    """Answer the next ``times`` matching requests with this status and body instead of serving them."""

    status: int = 500
    times: int = 1
    body: str = '{"error": "injected fault"}'
    content_type: str = "application/json"
    retry_after: str | None = None
    path: str | None = None  # only requests whose path starts with this
    method: str | None = None


@dataclass(frozen=True)
class ProductSpec:
    name: str
    resources: tuple[FakeResource, ...]
    bearer: str | None = None  # require ``Authorization: Bearer <token>``
    headers: Mapping[str, str] = field(default_factory=dict)  # other required header values (api keys, basic)
    faults: tuple[Fault, ...] = ()
    files: Mapping[str, bytes] = field(default_factory=dict)  # path -> bytes served behind the same auth


@dataclass(frozen=True)
class RecordedWrite:
    method: str
    path: str
    body: Any


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: Mapping[str, str]


def _put(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def _dig(body: Any, dotted: str) -> Any:
    for part in filter(None, dotted.split(".")):
        body = body.get(part) if isinstance(body, Mapping) else None
    return body


def _token(index: int) -> str:
    return base64.urlsafe_b64encode(f"after:{index}".encode()).decode()


def _untoken(token: str | None) -> int:
    return int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1]) if token else 0


Window = tuple[int, dict[str, Any]]  # where the page starts, and its metadata


def _page(res: FakeResource, request: Request, total: int, size: int) -> Window:
    number = int(request.query_params.get(res.param or "page", "1"))
    return (number - 1) * size, {"page": number, "pages": max(1, math.ceil(total / size)), "per_page": size}


def _offset(res: FakeResource, request: Request, total: int, size: int) -> Window:
    return int(request.query_params.get(res.param or "offset", "0")), {"per_page": size}


def _cursor(res: FakeResource, request: Request, total: int, size: int) -> Window:
    start = _untoken(request.query_params.get(res.param or "cursor"))
    more = start + size < total
    return start, {"next": _token(start + size) if more else None, "has_more": more}


def _link(res: FakeResource, request: Request, total: int, size: int) -> Window:
    number = int(request.query_params.get(res.param or "page", "1"))
    more = number * size < total
    following = str(request.url.include_query_params(**{res.param or "page": number + 1})) if more else None
    return (number - 1) * size, {"page": number, "next": following}


def _none(res: FakeResource, request: Request, total: int, size: int) -> Window:
    return 0, {}


_STYLES: Mapping[str, Callable[[FakeResource, Request, int, int], Window]] = {
    "none": _none, "page": _page, "offset": _offset, "cursor": _cursor, "link": _link,
}


class FakeProduct:
    """The running fake: ``app`` to serve, ``writes`` and ``requests`` to assert on, ``records`` as now stored."""

    def __init__(self, spec: ProductSpec) -> None:
        self.spec = spec
        self.records: dict[str, list[dict[str, Any]]] = {r.name: [copy.deepcopy(dict(x)) for x in r.records]
                                                         for r in spec.resources}
        self.writes: list[RecordedWrite] = []
        self.requests: list[SeenRequest] = []
        self._faults: list[list[Any]] = [[f, f.times] for f in spec.faults]
        self._ids = itertools.count(9001)
        routes = [Route(r.path, self._lister(r), methods=["GET"]) for r in spec.resources]
        routes += [Route(w.path, self._writer(r, w), methods=[w.method]) for r in spec.resources for w in r.writes]
        routes += [Route(path, self._file(content), methods=["GET"]) for path, content in spec.files.items()]
        self.app = Starlette(routes=routes)
        self.app.add_middleware(_Gate, fake=self)  # type: ignore[arg-type]

    def inject(self, fault: Fault) -> None:
        self._faults.append([fault, fault.times])

    def take_fault(self, request: Request) -> Fault | None:
        for entry in self._faults:
            fault, left = entry
            if left and request.url.path.startswith(fault.path or "") and fault.method in (None, request.method):
                entry[1] = left - 1
                return fault  # type: ignore[no-any-return]
        return None

    def _file(self, content: bytes) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return Response(content, media_type="application/octet-stream")
        return handler

    def _lister(self, res: FakeResource) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            items = self.records[res.name]
            if res.since and request.query_params.get(res.since[0]):
                floor = request.query_params[res.since[0]]
                items = [x for x in items if str(x.get(res.since[1], "")) >= floor]
            size = int(request.query_params.get(res.size_param or "", "") or res.page_size)
            if res.paging == "none":
                size = max(1, len(items))
            start, meta = _STYLES[res.paging](res, request, len(items), size)
            meta["total"] = len(items)
            window = items[start:start + size]
            headers = {"Link": f'<{meta["next"]}>; rel="next"'} if res.link_header and meta.get("next") else {}
            if not res.list_at:
                return JSONResponse(window, headers=headers)
            body: dict[str, Any] = {}
            _put(body, res.list_at, window)
            for kind, dotted in res.meta.items():
                _put(body, dotted, meta.get(kind))
            return JSONResponse(body, headers=headers)
        return handler

    def _writer(self, res: FakeResource, write: FakeWrite) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, status_code=400)
            self.writes.append(RecordedWrite(request.method, request.url.path, body))
            fields = body.get(write.wrap) if write.wrap else body
            if not isinstance(fields, dict):
                return JSONResponse({"error": f"expected an object under {write.wrap or 'the body'}"}, status_code=422)
            if write.kind == "update":
                target = next((x for x in self.records[res.name] if str(x.get(res.id)) == request.path_params["id"]), None)
                if target is None:
                    return JSONResponse({"error": f"no {res.name} {request.path_params['id']}"}, status_code=404)
                target.update(fields)
            else:
                target = {res.id: next(self._ids), **fields}
                self.records[res.name].append(target)
            if not write.reply:
                return JSONResponse(target, status_code=200 if write.kind == "update" else 201)
            answer: dict[str, Any] = {}
            _put(answer, write.reply, target)
            return JSONResponse(answer, status_code=200 if write.kind == "update" else 201)
        return handler


class _Gate:
    """Records every request, then answers injected faults and refused credentials before any route."""

    def __init__(self, app: Any, fake: FakeProduct) -> None:
        self.app, self.fake = app, fake

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        self.fake.requests.append(SeenRequest(request.method, request.url.path, dict(request.query_params)))
        fault = self.fake.take_fault(request)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            await Response(fault.body, fault.status, headers, media_type=fault.content_type)(scope, receive, send)
            return
        required = dict(self.fake.spec.headers)
        if self.fake.spec.bearer:
            required["authorization"] = f"Bearer {self.fake.spec.bearer}"
        if any(request.headers.get(name) != value for name, value in required.items()):
            await JSONResponse({"error": "unauthorized"}, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
