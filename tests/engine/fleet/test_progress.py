"""Progress of runs that workers carry out elsewhere, read from the store: a listener hears every run that starts
after it subscribed, even one that starts and ends between two reads, and each change once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from engine.fleet.progress import _running_progress, _start_floor, _Watch
from engine.runtime.history import finish_run, start_run
from engine.store import open_store
from engine.store.tables import runs


def test_a_listener_hears_quick_runs_and_each_change_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"))
    service: Any = SimpleNamespace(store=store)
    old = start_run(store, "acme/old", "apply", 3)
    finish_run(store, old, "done", {})  # before the listener: never told
    watch = _Watch(_start_floor(service))
    quick = start_run(store, "acme/quick", "apply", 2)
    with store.engine.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == quick).values(done=2))
    finish_run(store, quick, "done", {})  # began and ended between two reads
    slow = start_run(store, "acme/slow", "apply", 4)
    heard = _running_progress(service, watch)
    assert [(m["profile"], m["done"], m["status"]) for m in heard] == [("acme/quick", 2, "done"),
                                                                        ("acme/slow", 0, "running")]
    assert _running_progress(service, watch) == []  # nothing changed: nothing told again
    with store.engine.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == slow).values(done=3))
    assert [(m["run"], m["done"]) for m in _running_progress(service, watch)] == [(slow, 3)]
    finish_run(store, slow, "done", {})
    assert [(m["run"], m["status"]) for m in _running_progress(service, watch)] == [(slow, "done")]
    assert _running_progress(service, watch) == []
    store.dispose()
