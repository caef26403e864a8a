"""A batch's answers stored in the outbox, on SQLite (one executemany) and PostgreSQL (one UPDATE ... FROM
unnest): each row gets its own status and response, the last answer of a requestid wins, other rows stay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.runtime import outbox as ob
from engine.runtime.ports import TargetWrite
from engine.store import Store, open_store
from engine.store.tables import outbox
from tests.pg import throwaway_database


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield open_store(f"sqlite:///{tmp_path / 'state.db'}")
        return
    with throwaway_database() as url:
        store = open_store(url)
        yield store
        store.engine.dispose()


def test_settle_stores_each_answer_on_its_row(any_store: Store) -> None:
    writes = [TargetWrite(entity="Invoice", operation="create", payload={"DocNumber": f"D{n}"}, request_id=f"r{n}",
                          flow="invoices", source_key=f"k{n}") for n in range(4)]
    with any_store.engine.begin() as conn:
        ob.record_sent(conn, "p/x", 1, writes)
        ob.record_sent(conn, "p/other", 1, writes[:1])
    answers = [ob.Settled("r0", True, {"Id": "10", "Line": [{"Amount": "1.50"}]}), ob.Settled("r1", False, {"code": "6140"}),
               ob.Settled("r2", False, {"first": True}), ob.Settled("r2", True, {"Id": "12"})]
    with any_store.engine.begin() as conn:
        ob.settle(conn, "p/x", answers)
    with any_store.engine.connect() as conn:
        rows = {(r.profile, r.request_id): (r.status, r.response) for r in conn.execute(
            sa.select(outbox.c.profile, outbox.c.request_id, outbox.c.status, outbox.c.response))}
    assert rows[("p/x", "r0")] == ("done", {"Id": "10", "Line": [{"Amount": "1.50"}]})
    assert rows[("p/x", "r1")] == ("failed", {"code": "6140"})
    assert rows[("p/x", "r2")] == ("done", {"Id": "12"})
    assert rows[("p/x", "r3")] == ("sent", None)
    assert rows[("p/other", "r0")] == ("sent", None)


def test_statistics_are_refreshed_on_postgresql_and_nothing_happens_on_sqlite(any_store: Store) -> None:
    """A run growing the outbox from nothing would otherwise be planned as if it were empty until autovacuum
    looks (an index used for its first columns, the rest filtered row by row)."""
    writes = [TargetWrite(entity="Invoice", operation="create", payload={}, request_id=f"r{n}", flow="invoices",
                          source_key=f"k{n}") for n in range(50)]
    with any_store.engine.begin() as conn:
        ob.record_sent(conn, "p/x", 1, writes)
    any_store.refresh_statistics(("outbox", "ledger", "errors"))
    if any_store.dialect != "postgresql":
        return
    with any_store.engine.connect() as conn:  # reltuples: -1 until a table is first analyzed
        estimates = dict(conn.execute(sa.text("SELECT relname, reltuples FROM pg_class "
                                              "WHERE relname IN ('outbox', 'ledger', 'errors')")).all())
    assert estimates == {"outbox": 50, "ledger": 0, "errors": 0}
