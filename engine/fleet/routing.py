"""Notifications to jobs: each event is stored once per profile it concerns, then that profile's
``event`` job is deferred (joining the one already queued, so a burst makes a handful of jobs). A new
event job waits ``EVENT_DELAY`` seconds before it may start, so the rest of a burst joins it rather than
following it one job at a time.

QBO notifications are routed by realm id: every enabled profile connected to that company gets the
event (one notification for a realm with three profiles reaches all three). Product events name
their profile in the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.fleet.deployment import Deployment, Entry
from engine.fleet.jobs import JobQueue, JobSpec
from engine.serve import intake
from engine.serve.events import ProductEvent, QboEvent, bounded_key
from engine.serve.worker import product_row, qbo_row
from engine.store import Store

__all__ = ["EVENT_DELAY", "Routed", "profile_key", "route_product", "route_qbo"]

MAX_KEY = 255
EVENT_DELAY = 2.0  # seconds an event job waits before it may start: a burst arriving meanwhile joins it


@dataclass(frozen=True)
class Routed:
    accepted: int = 0
    duplicates: int = 0
    unrouted: int = 0
    jobs: tuple[int, ...] = ()


def profile_key(dedupe_key: str, profile: str) -> str:
    """The event's dedupe key for one profile; hashed when too long, never cut (a cut could collide)."""
    return bounded_key(f"{dedupe_key}@{profile}", MAX_KEY)


def _defer(queue: JobQueue, entry: Entry, jobs: set[int]) -> None:
    jobs.add(queue.defer(JobSpec(entry.key, "event", entry.realm), delay=EVENT_DELAY))


def route_qbo(store: Store, deployment: Deployment, queue: JobQueue, events: Sequence[QboEvent]) -> Routed:
    accepted = duplicates = unrouted = 0
    touched: dict[str, Entry] = {}  # profiles with a new event: one deferral each, however many events
    rows: list[intake.NewEvent] = []
    owners: list[tuple[int, Entry]] = []  # (index of the event in the body, profile) of each row
    for index, event in enumerate(events):
        targets = deployment.by_realm(event.realm)
        if not targets:
            unrouted += 1
        for entry in targets:
            rows.append(intake.NewEvent("qbo", profile_key(event.dedupe_key, entry.key), entry.key, qbo_row(event)))
            owners.append((index, entry))
    new: dict[int, int] = {}
    for (index, entry), row_id in zip(owners, intake.persist_many(store, rows), strict=True):
        new.setdefault(index, 0)
        if row_id is not None:
            new[index] += 1
            touched[entry.key] = entry
    accepted = sum(1 for n in new.values() if n > 0)
    duplicates = sum(1 for n in new.values() if n == 0)
    jobs: set[int] = set()
    for entry in touched.values():
        _defer(queue, entry, jobs)
    return Routed(accepted, duplicates, unrouted, tuple(sorted(jobs)))


def route_product(store: Store, queue: JobQueue, entry: Entry, event: ProductEvent, dedupe: str) -> Routed:
    if intake.persist(store, event.connection, profile_key(dedupe, entry.key), entry.key, product_row(event)) is None:
        return Routed(duplicates=1)
    jobs: set[int] = set()
    if entry.enabled:
        _defer(queue, entry, jobs)
    return Routed(accepted=1, jobs=tuple(jobs))
