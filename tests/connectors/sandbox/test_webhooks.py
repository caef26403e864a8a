"""Signed webhook notifications (CloudEvents and legacy formats), retried on failure."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from connectors.sandbox import Sandbox, WebhookTarget, create_app, sign
from connectors.sandbox.testing import InProcessClient, test_config
from tests.connectors.sandbox.helpers import FR, fr_invoice


class Receiver:
    """A webhook endpoint double: records what it gets, fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        with self.lock:
            self.calls.append((url, body, dict(headers)))
            if self.failures > 0:
                self.failures -= 1
                return 500
        return 200


def _client(receiver: Receiver, *targets: WebhookTarget) -> InProcessClient:
    config = test_config(webhooks=targets, webhook_token="verifier-123", webhook_retry_delays=(0.01, 0.01))
    return InProcessClient(create_app(sandbox=Sandbox(config, webhook_sender=receiver)))


def test_signature_matches_intuit_test_vector() -> None:
    body = (b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":"Customer",'
            b'"id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}')
    assert sign(body, "b5771f19b12ddb4bcdb9f08bdc50bc63878a") == "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="


def test_changes_send_signed_cloudevents_and_legacy_notifications() -> None:
    receiver = Receiver()
    targets = (WebhookTarget("http://hooks.test/ce", "cloudevents"), WebhookTarget("http://hooks.test/old", "legacy"))
    with _client(receiver, *targets) as client:
        invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
        client.create("Payment", {"CustomerRef": {"value": "52"}, "TotalAmt": 10, "PaymentRefNum": "P1",
                                  "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                                         "TxnType": "Invoice"}]}]})
        assert client.sandbox.webhooks.drain()
    by_url: dict[str, list[Any]] = {}
    for url, body, headers in receiver.calls:
        assert headers["intuit-signature"] == sign(body, "verifier-123")
        assert headers["content-type"] == "application/json; charset=utf-8"
        by_url.setdefault(url, []).append(json.loads(body))
    events = [event for batch in by_url["http://hooks.test/ce"] for event in batch]
    assert [e["type"] for e in events] == ["qbo.invoice.created.v1", "qbo.payment.created.v1",
                                           "qbo.invoice.updated.v1"]
    assert events[0]["intuitentityid"] == invoice["Id"] and events[0]["intuitaccountid"] == FR
    assert events[0]["specversion"] == "1.0"
    legacy = by_url["http://hooks.test/old"][1]["eventNotifications"][0]
    assert legacy["realmId"] == FR
    assert [(e["name"], e["operation"]) for e in legacy["dataChangeEvent"]["entities"]] == [
        ("Payment", "Create"), ("Invoice", "Update")]


def test_failed_deliveries_are_retried() -> None:
    receiver = Receiver(failures=2)
    with _client(receiver, WebhookTarget("http://hooks.test/ce")) as client:
        client.create("Customer", {"DisplayName": "Retry Me"})
        assert client.sandbox.webhooks.drain()
        deliveries = client.sandbox.webhooks.deliveries
    assert [(d.attempt, d.status, d.delivered) for d in deliveries] == [(0, 500, False), (1, 500, False),
                                                                         (2, 200, True)]
    assert receiver.calls[0][1] == receiver.calls[2][1]


def test_void_and_delete_verbs() -> None:
    receiver = Receiver()
    with _client(receiver, WebhookTarget("http://hooks.test/ce")) as client:
        invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
        client.post(f"{client.company()}/invoice", params={"operation": "void"},
                    json={"Id": invoice["Id"], "SyncToken": "0"})
        client.post(f"{client.company()}/invoice", params={"operation": "delete"},
                    json={"Id": invoice["Id"], "SyncToken": "1"})
        assert client.sandbox.webhooks.drain()
    types = [json.loads(body)[0]["type"] for _, body, _ in receiver.calls]
    assert types == ["qbo.invoice.created.v1", "qbo.invoice.voided.v1", "qbo.invoice.deleted.v1"]
