"""The QBO client: one object per profile run, over an ``httpx.Client`` that is passed in.

The request path, top to bottom (each layer one job)::

    get / query_all / cdc / write / batch / upload      (reads.py, writes.py, batch.py, upload.py)
      └── call()       retries reads on transient faults (backoff + jitter, Retry-After, shared pause)
      └── attempt()    one exchange → Answer: data, a Fault, or "no definite answer" (timeout, 5xx, 429)
            └── send() limiter slot (500/min, 40 batch/min, 10 in flight per company) → httpx with BearerAuth
                       (refresh on 401, then resend once)

Every request carries ``minorversion`` and ``Accept: application/json``; every answer is checked for a
``Fault`` even when its status is 200. Writes do not use :meth:`call`: a write without a definite answer
goes through the uncertain-outcome recovery of :mod:`connectors.qbo.recovery` before any retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.qbo import batch as batch_module
from connectors.qbo import reads, writes
from connectors.qbo import upload as upload_module
from connectors.qbo.auth import BearerAuth
from connectors.qbo.config import ClientSettings
from connectors.qbo.exchange import Answer, Call, retry_after_seconds
from connectors.qbo.faults import QboFault, fault_from_response_parts, local_fault
from connectors.qbo.limiter import Limiter, limiter_for
from connectors.qbo.wire import loads

__all__ = ["QboClient"]

log = logging.getLogger("passerelle.qbo")


class QboClient:
    """Talks to one QBO company. Thread-safe: up to the limiter's concurrency may share it."""

    def __init__(self, http: httpx.Client, settings: ClientSettings, *, auth: httpx.Auth | None = None,
                 limiter: Limiter | None = None) -> None:
        self.http = http
        self.settings = settings
        self.auth = auth
        self.limiter: Limiter = limiter or limiter_for(settings.realm_id, settings.limits)
        self._reference: reads.ReferenceCache | None = None
        self._preferences: dict[str, Any] | None = None

    @property
    def realm_id(self) -> str:
        return self.settings.realm_id

    @property
    def profile(self) -> str:
        return self.settings.profile

    # -- the request path ------------------------------------------------------------------------
    def send(self, call: Call) -> httpx.Response:
        """One HTTP exchange (through the limiter and auth). Transport errors propagate."""
        params = {"minorversion": str(self.settings.minorversion), **call.params}
        headers = {"Accept": "application/json"}
        if call.content_type:
            headers["Content-Type"] = call.content_type
        url = f"/v3/company/{self.realm_id}/{call.path.lstrip('/')}"
        request = self.http.build_request(call.method, url, params=params, headers=headers, content=call.body)
        with self.limiter.slot(call.is_batch):
            response = self.http.send(request, auth=self.auth) if self.auth else self.http.send(request)
        log.debug("qbo %s %s -> %s (intuit_tid=%s)", call.method, call.path, response.status_code,
                  response.headers.get("intuit_tid", ""))
        return response

    def attempt(self, call: Call) -> Answer:
        """One exchange, classified. Never raises for QBO faults or transport errors (except auth ones)."""
        try:
            response = self.send(call)
        except httpx.TimeoutException as exc:
            log.info("qbo %s %s timed out: %s", call.method, call.path, type(exc).__name__)
            return Answer(fault=local_fault("timeout", type(exc).__name__), definite=False)
        except httpx.TransportError as exc:
            log.info("qbo %s %s failed: %s", call.method, call.path, type(exc).__name__)
            return Answer(fault=local_fault("connection", type(exc).__name__), definite=False)
        except QboFault as error:  # raised by the auth flow (token endpoint); reconnect and config faults go up
            if not error.fault.transient:
                raise
            return Answer(fault=error.fault, definite=False)
        tid = response.headers.get("intuit_tid", "")
        fault = fault_from_response_parts(response.content, response.status_code, tid)
        if fault is not None:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return Answer(fault=fault, definite=not fault.transient, retry_after=retry_after)
        content_type = response.headers.get("content-type", "")
        if "json" in content_type:
            try:
                return Answer(data=loads(response.content))
            except ValueError:
                return Answer(fault=local_fault("server_error", "the answer is not valid JSON"), definite=False)
        return Answer(data=response.content)

    def backoff(self, attempt: int, answer: Answer) -> None:
        """Wait before the next attempt; a throttle pauses the whole company, not only this thread."""
        delay = self.settings.retry.delay(attempt, answer.retry_after)
        if answer.fault is not None and answer.fault.kind == "throttled":
            self.limiter.pause(delay)
        self.settings.retry.sleep(delay)

    def call(self, call: Call) -> Any:
        """Run an idempotent request (a read), retrying transient faults; returns the parsed answer."""
        policy = self.settings.retry
        answer = Answer()
        for attempt in range(policy.max_attempts):
            answer = self.attempt(call)
            if answer.ok:
                return answer.data
            assert answer.fault is not None
            if not answer.fault.transient or attempt == policy.max_attempts - 1:
                break
            self.backoff(attempt, answer)
        assert answer.fault is not None
        raise QboFault(answer.fault)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        """One record by id (``QboFault`` kind ``not_found`` when it is gone)."""
        try:
            data = self.call(Call("GET", f"{reads.entity_path(entity)}/{entity_id}"))
        except QboFault as error:
            raise type(error)(error.fault.about(entity, "read")) from None
        record: dict[str, Any] = data[entity]
        return record

    def query(self, text: str) -> dict[str, Any]:
        """One query page: the ``QueryResponse`` object."""
        data = self.call(Call("POST", "query", body=text.encode("utf-8"), content_type="application/text"))
        response: dict[str, Any] = data.get("QueryResponse") or {}
        return response

    def find(self, entity: str, criteria: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first record whose fields equal ``criteria`` (``{"DocNumber": "F1"}``), or None."""
        where = " AND ".join(f"{name} = {reads.quote(value)}" for name, value in criteria.items())
        rows = self.query(reads.select(entity, where, size=1)).get(entity) or []
        return dict(rows[0]) if rows else None

    def query_all(self, entity: str, where: str = "", *, include_inactive: bool = False
                  ) -> Iterator[dict[str, Any]]:
        """Every record matching ``where``, page after page until QBO has no more."""
        return reads.query_all(self, entity, where, include_inactive=include_inactive)

    def count(self, entity: str, where: str = "") -> int:
        return int(self.query(reads.select(entity, where, count=True)).get("totalCount", 0))

    def cdc(self, entities: Sequence[str], since: datetime | str) -> reads.CdcResult:
        return reads.change_data_capture(self, entities, since)

    def preferences(self) -> dict[str, Any]:
        """The company's preferences, read once per client."""
        if self._preferences is None:
            data = self.call(Call("GET", "preferences"))
            self._preferences = dict(data["Preferences"])
        return self._preferences

    def company_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.call(Call("GET", f"companyinfo/{self.realm_id}"))["CompanyInfo"]
        return info

    def reference_data(self) -> reads.ReferenceCache:
        """Accounts, tax codes, classes, items, customers … loaded on first use, then cached for the run."""
        if self._reference is None:
            self._reference = reads.ReferenceCache(self)
        return self._reference

    # -- writes ----------------------------------------------------------------------------------
    def write(self, request: writes.WriteRequest) -> writes.WriteResult:
        """Create, sparse-update, void, delete or deactivate one record, with no duplicate ever."""
        return writes.execute(self, request)

    def batch(self, requests: Sequence[writes.WriteRequest]) -> list[writes.WriteResult]:
        """Many writes in batch calls of up to 30, one result per request, in order."""
        return batch_module.run_batch(self, requests)

    def upload(self, item: upload_module.Upload) -> writes.WriteResult:
        """Attach a file to a transaction."""
        return upload_module.upload_file(self, item)

    def remember(self, entity: str, record: Mapping[str, Any]) -> None:
        """Keep the reference cache current after a write (a created customer is found by the next lookup)."""
        if self._reference is not None and entity in reads.REFERENCE_ENTITIES and record.get("status") != "Deleted":
            self._reference.remember(entity, record)

    def close(self) -> None:
        if isinstance(self.auth, BearerAuth):
            self.auth.close()
        self.http.close()

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
