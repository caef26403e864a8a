"""``HttpProduct``: a product API declared in YAML, read to exhaustion (or since a cursor) and written back.

The same class serves every product: what differs (paths, nesting, pagination, auth) is the pack's
declaration. Nothing touches the network until the first read or write, so building sources for a
profile never fails on a missing secret or an unreachable API.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import httpx

from connectors.http.auth import Secrets, auth_headers
from connectors.http.cursors import cursor_name, greater, load_cursor, save_cursor
from connectors.http.errors import Where, excerpt, fail
from connectors.http.paging import Page, paginate
from connectors.http.retry import DEFAULT_POLICY, RetryPolicy, send
from connectors.http.spec import ApiSpec, ResourceSpec, parse_spec, render
from connectors.http.wire import MISSING, dig, dumps, loads
from engine.errors import PasserelleError, RuleError
from engine.model import Connection
from engine.store import Store

__all__ = ["HttpProduct"]


class HttpProduct:
    """Reads and writes one ``http`` connection. ``records(resource)`` is the runtime's Source protocol."""

    def __init__(self, connection: Connection, *, settings: Mapping[str, Any] | None = None,
                 secrets: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
                 store: Store | None = None, profile: str | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0,
                 policy: RetryPolicy = DEFAULT_POLICY, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, incremental: bool = True) -> None:
        self.spec: ApiSpec = parse_spec(connection)
        self._scope: Mapping[str, Any] = {"settings": settings if settings is not None else MappingProxyType({})}
        self._secrets = Secrets(secrets or {}, os.environ if environ is None else environ)
        self._store, self._profile, self._incremental = store, profile, incremental
        self._transport, self._timeout = transport, timeout
        self._policy, self._sleep, self._rng = policy, sleep, rng or random.Random()
        self._client: httpx.Client | None = None
        self._base = ""
        self._pending: dict[str, str] = {}

    # -- reading ---------------------------------------------------------------------------------------------

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        """Every record of ``resource``; only those changed since the stored cursor when it declares one."""
        return self.read(resource, since=self.stored_cursor(resource) if self._incremental else None)

    def read(self, resource: str, *, since: str | None = None, track: bool = True) -> Iterator[Mapping[str, Any]]:
        """Every record of ``resource`` (from ``since`` when given), streaming page by page; ``track=False``
        leaves the cursor alone (a read for another purpose than syncing, e.g. current states)."""
        spec = self._resource(resource)
        where = self.spec.where.at(resource=resource)
        client = self._open(where)
        params = {key: render(t, self._scope, where, f"param {key!r}") for key, t in spec.params.items()}
        if since is not None and spec.cursor is not None:
            params[spec.cursor.param] = since
        url = self._url(render(spec.path, self._scope, where, "path"))
        best: Any = None
        for page in paginate(lambda u, p: self._fetch(client, spec, where, u, p), url, params, spec.paginate, where):
            for record in page.records:
                if spec.cursor is not None:
                    value = record.get(spec.cursor.field)
                    if value not in (None, "") and (best is None or greater(value, best)):
                        best = value
                yield record
        if best is not None and track:  # only a read that reached the end moves the cursor
            previous = self._pending.get(resource) or since
            if previous is None or greater(best, previous):
                self._pending[resource] = str(best)

    def _fetch(self, client: httpx.Client, spec: ResourceSpec, where: Where, url: str,
               params: Mapping[str, Any]) -> Page:
        response = send(client, "GET", url, where, params=params, policy=self._policy, sleep=self._sleep,
                        rng=self._rng, secrets=self._secrets.seen)
        here = where.at(path=response.request.url.path)
        body = self._json(response, here)
        found = dig(body, spec.records)
        if found is MISSING or not isinstance(found, list):
            keys = sorted(body) if isinstance(body, Mapping) else type(body).__name__
            what = f"no list at {spec.records!r}" if spec.records else "not a list of records"
            raise fail("E902", here, f"the answer has {what} (found: {keys})",
                       hint="set the resource's `records` to the dotted path of the list in the body")
        for record in found:
            if not isinstance(record, Mapping):
                raise fail("E902", here, f"a record is a {type(record).__name__}, not an object")
        link = response.links.get("next", {}).get("url")
        return Page(str(response.request.url), body, found, link)

    def _json(self, response: httpx.Response, where: Where) -> Any:
        try:
            return loads(response.content)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise fail("E902", where, f"the answer is not JSON: {excerpt(response.text, self._secrets.seen)}",
                       hint="check base_url: the path may serve a web page instead of the API") from None

    # -- cursors ---------------------------------------------------------------------------------------------

    def stored_cursor(self, resource: str) -> str | None:
        """The cursor saved by the last committed run (None without a store, a profile or a declared cursor)."""
        spec = self._resource(resource)
        if spec.cursor is None or self._store is None or self._profile is None:
            return None
        return load_cursor(self._store, self._profile, cursor_name(self.spec.connection, resource))

    def pending_cursors(self) -> Mapping[str, str]:
        """Resource -> the greatest cursor value seen by complete reads, not saved yet."""
        return MappingProxyType(dict(self._pending))

    def commit_cursors(self) -> None:
        """Save the pending cursors (call once what was read has been carried out)."""
        if self._store is None or self._profile is None:
            raise PasserelleError([RuleError("E903", f"connection {self.spec.connection!r}: cannot save cursors "
                                             "without a state store and a profile", self.spec.where.loc)])
        for resource, value in self._pending.items():
            save_cursor(self._store, self._profile, cursor_name(self.spec.connection, resource), value)
        self._pending.clear()

    # -- writing ---------------------------------------------------------------------------------------------

    def write(self, resource: str, payload: Mapping[str, Any], target_id: str | int | None = None) -> Mapping[str, Any]:
        """Create (no ``target_id``) or update a record; the answer's JSON object, or {} when there is none."""
        spec = self._resource(resource)
        kind = "create" if target_id is None else "update"
        where = self.spec.where.at(resource=resource)
        endpoint = spec.writes.get(kind)
        if endpoint is None:
            raise fail("E903", where, f"no {kind} endpoint is declared",
                       hint=f"declare resources.{resource}.write.{kind}: {{method: ..., path: ...}}")
        client = self._open(where)
        scope = {**self._scope, "target_id": None if target_id is None else quote(str(target_id), safe="")}
        url = self._url(render(endpoint.path, scope, where, f"write.{kind}.path"))
        body = {endpoint.wrap: payload} if endpoint.wrap else payload
        try:
            content = dumps(body)
        except (TypeError, ValueError) as exc:
            raise fail("E903", where, f"the payload cannot be sent as JSON: {exc}") from None
        response = send(client, endpoint.method, url, where, content=content,
                        headers={"Content-Type": "application/json"}, policy=self._policy, sleep=self._sleep,
                        rng=self._rng, secrets=self._secrets.seen)
        if not response.content.strip():
            return {}
        answer = self._json(response, where.at(path=response.request.url.path))
        return answer if isinstance(answer, Mapping) else {}

    # -- plumbing --------------------------------------------------------------------------------------------

    def _resource(self, resource: str) -> ResourceSpec:
        spec = self.spec.resources.get(resource)
        if spec is None:
            raise PasserelleError([RuleError("E321", f"connection {self.spec.connection!r} has no resource {resource!r}",
                                             self.spec.where.loc,
                                             hint=f"resources: {', '.join(self.spec.resources) or '(none)'}")])
        return spec

    def _open(self, where: Where) -> httpx.Client:
        if self._client is None:
            self._base = render(self.spec.base_url, self._scope, where, "base_url").rstrip("/")
            headers = {"Accept": "application/json", "User-Agent": "passerelle"}
            headers.update({k: render(t, self._scope, where, f"header {k!r}") for k, t in self.spec.headers.items()})
            headers.update(auth_headers(self.spec.auth, self._secrets, where))
            self._client = httpx.Client(transport=self._transport, timeout=self._timeout, headers=headers,
                                        follow_redirects=False)
        return self._client

    def _url(self, path: str) -> str:
        """Paths always hang under base_url, so credentials never travel to another host."""
        return f"{self._base}/{path.lstrip('/')}"

    # -- files (attachments: receipts, PDFs) ----------------------------------------------------------

    def owns_url(self, url: str) -> bool:
        """Whether ``url`` is on this API's host (then it is fetched with the API's credentials)."""
        where = self.spec.where.at(resource="files")
        self._open(where)
        base, wanted = httpx.URL(self._base), httpx.URL(url)
        return (base.scheme, base.host, base.port) == (wanted.scheme, wanted.host, wanted.port)

    def open_file(self, url: str) -> AbstractContextManager[httpx.Response]:
        """A streamed GET of a file on this API's host (a receipt, a PDF) through the authenticated client.

        Redirects are not followed: the caller (``connectors.fetch.FileFetcher``) reads the answer within
        its size and time bounds and checks a redirect's target like any other URL, without these
        credentials."""
        return self._open(self.spec.where.at(resource="files")).stream("GET", url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> HttpProduct:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
