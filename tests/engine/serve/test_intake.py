from __future__ import annotations

from engine.serve import intake
from engine.store import open_store


def test_persisted_once_then_marked_processed() -> None:
    store = open_store("sqlite://")
    first = intake.persist(store, "qbo", "k1", None, {"a": 1})
    assert first is not None
    assert intake.persist(store, "qbo", "k1", None, {"a": 1}) is None  # a redelivery
    assert intake.persist(store, "product", "k1", "p/x", {"a": 1}) is not None  # another source
    assert [e.dedupe_key for e in intake.unprocessed(store)] == ["k1", "k1"]
    intake.mark_processed(store, first)
    assert [e.source for e in intake.unprocessed(store)] == ["product"]
    assert intake.count(store) == 2 and intake.count(store, "qbo") == 1
