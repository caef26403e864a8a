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


def test_a_body_of_thousands_of_events_is_stored_in_a_few_statements_and_redeliveries_are_none(
        tmp_path: object) -> None:
    """A notification body is stored whole before it is acknowledged: 5,000 events in one transaction of a few
    statements (not one per event), duplicates within the body and of earlier bodies answered None."""
    import sqlalchemy as sa

    store = open_store(f"sqlite:///{tmp_path}/state.db")
    intake.persist(store, "qbo", "k-7", None, {"n": 7})  # an earlier body
    new = [intake.NewEvent("qbo", f"k-{n}", "p/x", {"n": n}) for n in range(5000)]
    new.append(intake.NewEvent("qbo", "k-12", "p/x", {"n": 12}))  # twice in the same body
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    ids = intake.persist_many(store, new)
    assert len(statements) <= 20, len(statements)  # 13 key lookups of 400, one insert, begin/commit
    assert ids[7] is None and ids[-1] is None and sum(i is not None for i in ids) == 4999
    assert len({i for i in ids if i is not None}) == 4999 and intake.count(store, "qbo") == 5000
    stored = {e.dedupe_key: e.id for e in intake.unprocessed(store)}
    assert all(stored[f"k-{n}"] == ids[n] for n in range(5000) if n != 7)
    assert intake.persist_many(store, new[:100]) == [None] * 100  # a redelivery of the body
