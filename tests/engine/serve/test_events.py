from __future__ import annotations

import json

import pytest

from connectors.sandbox.operations import Change
from connectors.sandbox.webhooks import cloudevents_body, legacy_body
from engine.serve.events import BadNotification, parse_product, parse_qbo


def _change(entity: str = "Invoice", op: str = "Update") -> Change:
    return Change(realm_id="9341450000000001", entity=entity, entity_id="42", operation=op,
                  last_updated="2025-05-01T10:00:00-07:00")


def test_both_formats_give_the_same_event() -> None:
    (legacy,) = parse_qbo(legacy_body([_change()]))
    (cloud,) = parse_qbo(cloudevents_body([_change()]))
    for event in (legacy, cloud):
        assert (event.realm, event.entity, event.entity_id, event.operation) == (
            "9341450000000001", "Invoice", "42", "Update")
        assert event.trigger == "qbo:Invoice.Update"
    assert cloud.dedupe_key.startswith("ce:") and legacy.dedupe_key.startswith("9341450000000001:Invoice:42:Update:")


def test_cloudevent_entity_names_and_verbs() -> None:
    (event,) = parse_qbo(cloudevents_body([_change("BillPayment", "Void")]))
    assert (event.entity, event.operation) == ("BillPayment", "Void")


@pytest.mark.parametrize("body", [b"nope", b"{}", b'{"eventNotifications": 3}', b'[{"type": "x.y"}]'])
def test_bodies_that_are_not_notifications(body: bytes) -> None:
    with pytest.raises(BadNotification):
        parse_qbo(body)


def test_product_event() -> None:
    event = parse_product("product", json.dumps({"id": "e1", "type": "invoice.validated",
                                                 "data": {"id": "F0003"}}).encode())
    assert (event.trigger, event.record_id, event.event_id) == ("product:invoice.validated", "F0003", "e1")
    with pytest.raises(BadNotification):
        parse_product("product", b'{"type": "x", "data": {}}')
