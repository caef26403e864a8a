"""A record read again because of a QBO event carries what QBO said happened (``record.QboEvent``)."""

from __future__ import annotations

from engine.serve.events import QboEvent
from engine.serve.process import EVENT_FIELD, OneRecord


def test_the_record_read_for_an_event_carries_its_entity_and_operation() -> None:
    event = QboEvent(realm="1", entity="Payment", entity_id="7", operation="Create",
                     last_updated="2025-04-20T10:00:00Z")
    (record,) = OneRecord("Invoice", {"Id": "3"}, event).records("Invoice")
    assert record[EVENT_FIELD] == {"entity": "Payment", "operation": "Create", "id": "7",
                                   "at": "2025-04-20T10:00:00Z"}
    assert record["Id"] == "3"
    (plain,) = OneRecord("Invoice", {"Id": "3"}).records("Invoice")
    assert EVENT_FIELD not in plain  # a record read without an event says nothing happened
    assert list(OneRecord("Invoice", {"Id": "3"}, event).records("Bill")) == []
