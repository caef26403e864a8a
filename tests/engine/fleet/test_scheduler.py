"""Schedules to jobs, from the packs' own ``schedule:`` (F21)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.fleet.deployment import Deployment
from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.scheduler import next_runs, tick
from engine.runtime import suspension
from engine.store import Store

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _scheduled(queue: EmbeddedQueue) -> list[str]:
    return sorted(job.spec.profile for job in queue.jobs() if job.spec.kind == "scheduled")


def test_F21_the_pack_schedule_syncs_every_profile_every_hour(store: Store, deployment: Deployment) -> None:
    queue = EmbeddedQueue(store)
    assert {e.every for e in deployment.runnable()} == {3600.0}  # rules/freshbooks/pack.yaml: every: 1h
    assert tick(store, deployment, queue, T0).deferred == tuple(sorted(deployment.entries()))
    assert next_runs(store)["freshbooks/fleet-000"] == T0 + dt.timedelta(hours=1)
    assert tick(store, deployment, queue, T0 + dt.timedelta(minutes=59)).deferred == ()
    assert len(tick(store, deployment, queue, T0 + dt.timedelta(hours=1)).deferred) == 3
    # three ticks, two due: the queued jobs joined (nothing ran in between), so still one job each
    assert _scheduled(queue) == sorted(deployment.entries())


def test_a_profile_overrides_the_interval_and_can_be_switched_off(tmp_path: Path, store: Store,
                                                                   deployment: Deployment) -> None:
    folder = tmp_path / "deployment" / "profiles"
    first = folder / "fleet-000.yaml"
    first.write_text(first.read_text(encoding="utf-8") + "schedule: {every: 15m}\n", encoding="utf-8")
    second = folder / "fleet-001.yaml"
    second.write_text(second.read_text(encoding="utf-8") + "enabled: false\n", encoding="utf-8")
    deployment.scan()
    queue = EmbeddedQueue(store)
    assert set(tick(store, deployment, queue, T0).deferred) == {"freshbooks/fleet-000", "freshbooks/fleet-002"}
    assert tick(store, deployment, queue, T0 + dt.timedelta(minutes=15)).deferred == ("freshbooks/fleet-000",)


def test_a_suspended_profile_gets_no_automatic_sync_until_the_date(store: Store, deployment: Deployment) -> None:
    suspension.suspend(store, "freshbooks/fleet-002", (T0 + dt.timedelta(days=2)).date().isoformat())
    queue = EmbeddedQueue(store)
    report = tick(store, deployment, queue, T0)
    assert "freshbooks/fleet-002" not in report.deferred and report.suspended == ("freshbooks/fleet-002",)
    assert "freshbooks/fleet-002" in tick(store, deployment, queue, T0 + dt.timedelta(days=2)).deferred


def test_two_schedulers_ticking_together_defer_each_run_once(store: Store, deployment: Deployment) -> None:
    queue = EmbeddedQueue(store)
    first = tick(store, deployment, queue, T0)
    second = tick(store, deployment, queue, T0)  # another service process, same moment
    assert len(first.deferred) == 3 and second.deferred == ()
    later = T0 + dt.timedelta(hours=1)
    from engine.fleet.deployment import Deployment as Other

    other = Other(deployment.roots, store)
    other.scan()
    won = [tick(store, d, queue, later).deferred for d in (deployment, other)]
    assert sorted(won[0] + won[1]) == sorted(deployment.entries())


def test_G5_a_first_sync_meant_to_be_launched_by_hand_waits_for_it(tmp_path: Path, store: Store,
                                                                deployment: Deployment) -> None:
    path = tmp_path / "deployment" / "profiles" / "fleet-000.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "schedule: {first_sync: manual}\n", encoding="utf-8")
    deployment.scan()
    queue = EmbeddedQueue(store)
    assert "freshbooks/fleet-000" not in tick(store, deployment, queue, T0).deferred
    from engine.runtime.history import finish_run, start_run

    finish_run(store, start_run(store, "freshbooks/fleet-000", "apply", 3), "done", {"create": 3})  # launched
    assert "freshbooks/fleet-000" in tick(store, deployment, queue, T0 + dt.timedelta(minutes=1)).deferred
