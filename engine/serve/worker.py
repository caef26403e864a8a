"""The background worker: processes stored events one at a time (each realm's changes in order),
and runs the scheduled change-data-capture sweep and product polling between them.

Requests only persist and enqueue; everything slow (QBO reads, plans, writes) happens here, after the
notification was acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.runtime.apply import apply_plan
from engine.serve import intake
from engine.serve.cdc import catch_up, save_cursor
from engine.serve.events import ProductEvent, QboEvent, event_from_row
from engine.serve.hub import Hub
from engine.serve.process import Outcome, handle_product, handle_qbo
from engine.serve.profiles import Served
from engine.store import Store

__all__ = ["Worker", "WorkerOptions", "product_row", "qbo_row"]

log = logging.getLogger("passerelle.serve")


@dataclass(frozen=True)
class WorkerOptions:
    cdc_every: float | None = 900.0   # seconds between change-data-capture sweeps; None: only at start-up
    cdc_at_start: bool = True
    idle: float = 0.05


def qbo_row(event: QboEvent) -> dict[str, Any]:
    return {"kind": "qbo", "realm": event.realm, "entity": event.entity, "id": event.entity_id,
            "operation": event.operation, "last_updated": event.last_updated, "event_id": event.event_id,
            "raw": dict(event.raw or {})}


def product_row(event: ProductEvent) -> dict[str, Any]:
    return {"kind": "product", "connection": event.connection, "type": event.type, "record_id": event.record_id,
            "event_id": event.event_id, "record": dict(event.record)}


@dataclass
class _Stats:
    processed: int = 0
    failed: int = 0
    last_error: str | None = None
    cdc: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    polls: dict[str, float] = field(default_factory=dict)


class Worker:
    def __init__(self, store: Store, served: Sequence[Served], hub: Hub, options: WorkerOptions | None = None,
                 on_outcome: Callable[[int, Outcome], None] | None = None) -> None:
        self.store, self.served, self.hub, self.options = store, list(served), hub, options or WorkerOptions()
        self.on_outcome = on_outcome
        self.stats = _Stats()
        self._queue: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_cdc = 0.0

    def start(self) -> None:
        for row in intake.unprocessed(self.store):  # left over by a previous run
            self._queue.put(row.id)
        self._next_cdc = time.monotonic() if self.options.cdc_at_start else self._later()
        self._thread = threading.Thread(target=self._run, name="passerelle-serve-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def submit(self, event_id: int) -> None:
        self._idle.clear()
        self._queue.put(event_id)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted event is processed (tests and graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def cdc_now(self) -> None:
        """Ask for a change-data-capture sweep at the next idle moment."""
        self._next_cdc = 0.0

    # -- the loop --------------------------------------------------------------------------------------------

    def _later(self) -> float:
        every = self.options.cdc_every
        return time.monotonic() + every if every else float("inf")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event_id = self._queue.get(timeout=self.options.idle)
            except queue.Empty:
                self._scheduled()
                continue
            try:
                self._process(event_id)
            finally:
                self._queue.task_done()

    def _scheduled(self) -> None:
        if time.monotonic() >= self._next_cdc:
            self._next_cdc = self._later()
            for served in self.served:
                self._catch_up(served)
        for served in self.served:
            for events in served.products.values():
                if events.poll_every and time.monotonic() >= self.stats.polls.get(f"{served.key}:{events.connection}",
                                                                                 0.0):
                    self.stats.polls[f"{served.key}:{events.connection}"] = time.monotonic() + events.poll_every
                    self._poll(served)

    def _catch_up(self, served: Served) -> None:
        try:
            report = catch_up(served)
        except Exception as exc:
            log.warning("%s: change-data-capture failed: %s", served.key, exc)
            self.stats.cdc[served.key] = {"error": str(exc)}
            return
        for event in report.events:  # persisted like any notification, so a crash here loses nothing
            row_id = intake.persist(self.store, "qbo-cdc", event.dedupe_key, served.key, qbo_row(event))
            if row_id is not None:
                self._queue.put(row_id)
        save_cursor(served, report.cursor)
        self.stats.cdc[served.key] = {"cursor": report.cursor, "changes": len(report.events), "gap": report.gap,
                                      "full_reread_offered": report.gap is not None}

    def _poll(self, served: Served) -> None:
        """A product without webhooks: an incremental sync (cursors move only after a successful apply)."""
        session = served.session
        try:
            plan = session.plan()
            report = apply_plan(plan, session.target, session.store, progress=self._progress(served),
                                writers=session.writers, attacher=session.target, fetcher=session.fetcher)
            if report.ok:
                session.commit_cursors()
        except Exception as exc:
            log.warning("%s: polling failed: %s", served.key, exc)

    def _progress(self, served: Served) -> Callable[[int, int, str], None]:
        def tick(done: int, total: int, label: str) -> None:
            self.hub.publish({"profile": served.key, "done": done, "total": total, "label": label})
        return tick

    def _process(self, event_id: int) -> None:
        row = intake.load(self.store, event_id)
        if row is None:
            return
        try:
            outcome = self._dispatch(row.profile, row.body)
        except Exception as exc:  # the event stays unprocessed and is retried at the next start
            log.exception("event %s failed", event_id)
            self.stats.failed += 1
            self.stats.last_error = f"event {event_id}: {exc}"
            self.hub.publish({"event": event_id, "error": str(exc)})
            return
        intake.mark_processed(self.store, event_id)
        self.stats.processed += 1
        self.hub.publish({"event": event_id, "processed": True, "runs": list(outcome.runs),
                          "ignored": outcome.ignored})
        if self.on_outcome is not None:
            self.on_outcome(event_id, outcome)

    def _dispatch(self, profile: str | None, body: Mapping[str, Any]) -> Outcome:
        event = event_from_row(body)
        if isinstance(event, ProductEvent):
            served = next((s for s in self.served if s.key == profile), None)
            if served is None:
                return Outcome(ignored=f"profile {profile} is not served")
            return handle_product(served.session, event, self._progress(served))
        targets = [s for s in self.served if s.realm == event.realm and (profile is None or s.key == profile)]
        if not targets:
            return Outcome(ignored=f"no served profile for realm {event.realm}")
        runs: list[int] = []
        ignored = []
        for served in targets:
            outcome = handle_qbo(served.session, event, self._progress(served))
            runs.extend(outcome.runs)
            if outcome.ignored:
                ignored.append(outcome.ignored)
        return Outcome(runs=tuple(runs), ignored="; ".join(ignored) or None)
