"""Notifications routed by realm to every profile of the company, as a handful of coalesced jobs."""

from __future__ import annotations

from pathlib import Path

from engine.fleet.deployment import Deployment
from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.routing import MAX_KEY, profile_key, route_qbo
from engine.serve import intake
from engine.serve.events import QboEvent
from engine.store import Store
from tests.e2e.fleet_lab import write_profiles


def _event(realm: str, n: int) -> QboEvent:
    return QboEvent(realm, "Invoice", str(n), "Update", f"2026-12-01T08:00:{n % 60:02d}Z", f"ce-{n}")


def test_one_notification_for_a_company_with_three_profiles_reaches_all_three(tmp_path: Path, store: Store) -> None:
    write_profiles(tmp_path, ("111", "111", "111", "222"), 4)
    deployment = Deployment([tmp_path / "profiles"], store)
    deployment.scan()
    queue = EmbeddedQueue(store)
    routed = route_qbo(store, deployment, queue, [_event("111", 1)])
    assert (routed.accepted, routed.duplicates, len(routed.jobs)) == (1, 0, 3)
    assert sorted(row.profile for row in intake.unprocessed(store)) == [
        "freshbooks/fleet-000", "freshbooks/fleet-001", "freshbooks/fleet-002"]
    again = route_qbo(store, deployment, queue, [_event("111", 1)])  # redelivered
    assert (again.accepted, again.duplicates) == (0, 1)
    assert route_qbo(store, deployment, queue, [_event("999", 2)]).unrouted == 1


def test_a_burst_of_500_notifications_makes_one_job_per_profile(store: Store, deployment: Deployment) -> None:
    realm = deployment.get("freshbooks/fleet-000").realm  # type: ignore[union-attr]
    queue = EmbeddedQueue(store)
    profiles = deployment.by_realm(str(realm))
    one_body = route_qbo(store, deployment, queue, [_event(str(realm), n) for n in range(250)])
    assert one_body.accepted == 250 and len(profiles) == 2
    assert len(one_body.jobs) == 2 and sum(job.coalesced for job in queue.jobs()) == 0  # one deferral per profile
    jobs = set(one_body.jobs)
    for n in range(250, 500):  # then one webhook at a time: each joins its profile's waiting job
        jobs.update(route_qbo(store, deployment, queue, [_event(str(realm), n)]).jobs)
    assert jobs == set(one_body.jobs)
    assert sum(job.coalesced for job in queue.jobs()) == 2 * 250
    assert len(intake.unprocessed(store)) == 1000


def test_long_dedupe_keys_are_hashed_never_cut() -> None:
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert profile_key(long_a, "p/q") != profile_key(long_b, "p/q")
    assert len(profile_key(long_a, "p/q")) <= MAX_KEY
    assert profile_key("ce:1", "p/q") == "ce:1@p/q"
