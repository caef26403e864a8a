"""Signed change notifications, in Intuit's CloudEvents format or the legacy ``eventNotifications`` one.

One notification per committed request (all the changes it made), per configured URL. The body is
signed with ``intuit-signature = base64(HMAC-SHA256(verifier token, raw body))``. Delivery runs on a
background thread; a non-2xx answer or a connection error is retried after each delay of
``webhook_retry_delays`` (seconds; QBO uses 10 s, 20 s, 30 s, 5 min… — tests pass tiny delays),
then dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.sandbox.config import WebhookTarget
from connectors.sandbox.operations import Change

__all__ = ["Delivery", "Sender", "WebhookDispatcher", "cloudevents_body", "legacy_body", "sign"]

NOTIFIED = frozenset({"Account", "Bill", "BillPayment", "Class", "CreditMemo", "Customer", "Department",
                      "Invoice", "Item", "Payment", "PaymentMethod", "Purchase", "SalesReceipt", "Term",
                      "Vendor", "Preferences", "Deposit", "Employee", "Estimate", "JournalEntry", "PurchaseOrder",
                      "RefundReceipt", "TimeActivity", "Transfer", "VendorCredit", "Budget", "TaxAgency"})
_VERBS: Mapping[str, str] = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}

Sender = Callable[[str, bytes, Mapping[str, str]], int]


def sign(body: bytes, token: str) -> str:
    return base64.b64encode(hmac.new(token.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _legacy_time(stamp: str) -> str:
    parsed = datetime.fromisoformat(stamp)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S%z")


def legacy_body(changes: Sequence[Change]) -> bytes:
    by_realm: dict[str, list[dict[str, str]]] = {}
    for change in changes:
        by_realm.setdefault(change.realm_id, []).append(
            {"name": change.entity, "id": change.entity_id, "operation": change.operation,
             "lastUpdated": _legacy_time(change.last_updated)})
    notifications = [{"realmId": realm, "dataChangeEvent": {"entities": entities}}
                     for realm, entities in by_realm.items()]
    return json.dumps({"eventNotifications": notifications}, separators=(",", ":")).encode("utf-8")


def cloudevents_body(changes: Sequence[Change]) -> bytes:
    events = [{
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": f"intuit.sandbox.{change.realm_id}",
        "type": f"qbo.{change.entity.lower()}.{_VERBS[change.operation]}.v1",
        "datacontenttype": "application/json",
        "time": datetime.fromisoformat(change.last_updated).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "intuitentityid": change.entity_id, "intuitaccountid": change.realm_id, "data": {},
    } for change in changes]
    return json.dumps(events, separators=(",", ":")).encode("utf-8")


_BODIES: Mapping[str, Callable[[Sequence[Change]], bytes]] = {"legacy": legacy_body,
                                                              "cloudevents": cloudevents_body}


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a notification: what was sent and what the receiver answered."""

    url: str
    body: bytes
    attempt: int
    status: int | None  # None: the connection failed
    delivered: bool


def _http_sender(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    import httpx  # imported on the first notification, not at start-up

    return httpx.post(url, content=body, headers=dict(headers), timeout=3.0).status_code


@dataclass(frozen=True)
class _Job:
    target: WebhookTarget
    body: bytes
    attempt: int
    due: float


class WebhookDispatcher:
    """Queues notifications and delivers them from one daemon thread, with retries."""

    def __init__(self, targets: Sequence[WebhookTarget], token: str, retry_delays: Sequence[float],
                 sender: Sender | None = None) -> None:
        self.targets = list(targets)
        self.token = token
        self.retry_delays = tuple(retry_delays)
        self.sender: Sender = sender or _http_sender
        self.deliveries: list[Delivery] = []
        self._jobs: list[_Job] = []
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = 0
        self._closed = False

    def add_target(self, target: WebhookTarget) -> None:
        self.targets.append(target)

    def publish(self, changes: Sequence[Change]) -> None:
        notified = [change for change in changes if change.entity in NOTIFIED]
        if not notified or not self.targets:
            return
        with self._condition:
            for target in self.targets:
                self._jobs.append(_Job(target, _BODIES[target.format](notified), 0, time.monotonic()))
            self._start()
            self._condition.notify_all()

    def headers(self, body: bytes) -> dict[str, str]:
        return {"intuit-signature": sign(body, self.token),
                "intuit-created-time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "intuit-t-id": str(uuid.uuid4()), "intuit-notification-schema-version": "0.1",
                "content-type": "application/json; charset=utf-8",
                "user-agent": "intuit_notification_server/0.1"}

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued or in flight; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
        return True

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def _next_job(self) -> _Job | None:
        with self._condition:
            while not self._closed:
                now = time.monotonic()
                ready = [job for job in self._jobs if job.due <= now]
                if ready:
                    job = min(ready, key=lambda j: j.due)
                    self._jobs.remove(job)
                    self._busy += 1
                    return job
                wait = min((job.due for job in self._jobs), default=now + 0.5) - now
                self._condition.wait(max(0.001, min(wait, 0.5)))
            return None

    def _run(self) -> None:
        import httpx  # the delivery thread starts with the first notification

        while (job := self._next_job()) is not None:
            status: int | None
            try:
                status = self.sender(job.target.url, job.body, self.headers(job.body))
            except (httpx.HTTPError, OSError):
                status = None
            delivered = status is not None and 200 <= status < 300
            with self._condition:
                self.deliveries.append(Delivery(job.target.url, job.body, job.attempt, status, delivered))
                if not delivered and job.attempt < len(self.retry_delays):
                    self._jobs.append(_Job(job.target, job.body, job.attempt + 1,
                                           time.monotonic() + self.retry_delays[job.attempt]))
                self._busy -= 1
                self._condition.notify_all()


