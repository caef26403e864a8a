"""Carrying out one job: one call of the sync runtime for one profile (plan → apply through the outbox).

The kinds are a registry. A job that meets a user mistake (a profile that no longer compiles, a
blocking prerequisite check, an unknown error id) fails at once with the message; anything else
(QBO or the product unreachable, the database busy) is left to the queue's retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.cli.session import Session, open_session
from engine.errors import PasserelleError
from engine.fleet.deployment import Deployment, Entry
from engine.fleet.jobs import JobResult, JobSpec
from engine.fleet.scheduler import synced_once
from engine.pipeline import Loaded
from engine.runtime.apply import Progress, apply_plan
from engine.runtime.checks import blocking_failures
from engine.runtime.history import list_errors, set_error_status
from engine.serve import intake
from engine.serve.events import ProductEvent, event_from_row
from engine.serve.process import handle_product, handle_qbo
from engine.store import Store

__all__ = ["JobFailed", "Runner"]

EVENTS_PER_JOB = 500  # a longer backlog continues in the next job of the profile


class JobFailed(Exception):
    """A failure that retrying cannot fix (the message says what the user must change)."""


Publish = Callable[[Mapping[str, Any]], None]


@dataclass
class Runner:
    """Runs jobs against ``store`` for the profiles of ``deployment``.

    ``session_options`` go to :func:`open_session` (tests pass in-process transports); ``publish`` receives
    progress ticks for the live event stream."""

    store: Store
    deployment: Deployment
    session_options: Mapping[str, Any] = field(default_factory=dict)
    publish: Publish | None = None
    defer_more: Callable[[JobSpec], object] | None = None  # re-queues a job whose backlog was too long

    def __call__(self, spec: JobSpec) -> JobResult:
        entry = self.deployment.fresh(spec.profile)
        if entry is None:
            self.deployment.scan()
            entry = self.deployment.fresh(spec.profile)
        if entry is None:
            raise JobFailed(f"profile {spec.profile} is not part of this deployment (any more)")
        if entry.error is not None:
            raise JobFailed(f"profile {spec.profile} does not compile: {entry.error}")
        if not entry.enabled and spec.kind in ("scheduled", "event"):
            return JobResult(note="the integration is switched off (enabled: false)")
        kind = KINDS.get(spec.kind)
        if kind is None:
            raise JobFailed(f"unknown job kind {spec.kind!r}")
        try:
            return kind(self, entry, spec)
        except PasserelleError as exc:
            raise JobFailed("; ".join(e.message for e in exc.errors)) from None

    # -- what the kinds share ---------------------------------------------------------------------
    def session(self, entry: Entry) -> AbstractContextManager[Session]:
        return open_session(str(entry.path), store=self.store, loaded=entry.loaded, **self.session_options)

    def progress(self, profile: str) -> Progress | None:
        publish = self.publish
        if publish is None:
            return None

        def tick(done: int, total: int, label: str) -> None:
            publish({"profile": profile, "done": done, "total": total, "label": label})
        return tick


@contextmanager
def _checked(runner: Runner, entry: Entry) -> Iterator[Session]:
    with runner.session(entry) as session:
        failures = blocking_failures(session)
        if failures:
            raise JobFailed("blocking prerequisite check failed: " + "; ".join(
                f"{r.name}: {r.message}" for r in failures) + f" (run `passerelle check {entry.path} --fix`)")
        yield session


def _sync(runner: Runner, entry: Entry, spec: JobSpec) -> JobResult:
    """Scheduled, manual and first syncs: plan and apply (a manual one ignores suspension). A first sync, once
    launched, cannot be cancelled (the seed's promise): neither suspension nor the on/off switch stops it."""
    with _checked(runner, entry) as session:
        plan = session.plan(record=spec.record, manual=spec.kind == "manual", launched=spec.kind == "first")
        if not plan.has_changes and not any(c.action in ("error", "conflict") for c in plan.changes):
            return JobResult(note="nothing to do")
        report = apply_plan(plan, session.target, session.store, progress=runner.progress(entry.key),
                            writers=session.writers, attacher=session.target, fetcher=session.fetcher)
        if report.ok:
            session.commit_cursors()
        return JobResult(runs=(report.run_id,), counts=dict(report.counts),
                         note=f"{len(report.failures)} record(s) failed: see the error history" if report.failures
                         else None)


def _reads_qbo(loaded: Loaded) -> bool:
    """Whether QBO notifications can concern the profile: a flow reads QBO, or a machine listens to it."""
    qbo = {name for name, conn in loaded.resolved.connections.items() if conn.connector == "qbo"}
    return (any(flow.flow.source.connection in qbo for flow in loaded.compiled.flows.values()) or
            any(t.kind == "on" and t.source.startswith("qbo:") for m in loaded.pack.machines.values()
                for t in m.triggers))


def _events(runner: Runner, entry: Entry, spec: JobSpec) -> JobResult:
    """The profile's stored notifications, oldest first. Several about one record are one re-read of it,
    since processing reads the record's current state anyway; QBO ones are not read at all for a profile
    that nothing of QBO's flows into (e.g. one that only writes to QBO)."""
    rows = intake.unprocessed(runner.store, entry.key, limit=EVENTS_PER_JOB)
    if not rows:
        return JobResult(note="no pending event")
    if entry.first_sync_manual and not synced_once(runner.store, [entry.key]):
        intake.mark_processed(runner.store, *(row.id for row in rows))  # the first sync will cover them
        return JobResult(counts={"events": len(rows)}, note="waiting for the first sync to be launched")
    runs: list[int] = []
    seen: set[tuple[str, ...]] = set()
    reads_qbo = entry.loaded is None or _reads_qbo(entry.loaded)
    with runner.session(entry) as session:
        for row in rows:
            event = event_from_row(row.body)
            if not isinstance(event, ProductEvent) and not reads_qbo:
                intake.mark_processed(runner.store, row.id)
                continue
            if isinstance(event, ProductEvent):
                key: tuple[str, ...] = ("product", event.connection, event.type, event.record_id)
            else:
                key = ("qbo", event.entity, event.entity_id, event.operation)
            if key not in seen:
                seen.add(key)
                outcome = (handle_product(session, event, runner.progress(entry.key)) if isinstance(event, ProductEvent)
                           else handle_qbo(session, event, runner.progress(entry.key)))
                runs.extend(outcome.runs)
            intake.mark_processed(runner.store, row.id)
    if len(rows) == EVENTS_PER_JOB and runner.defer_more is not None:
        runner.defer_more(spec)
    return JobResult(runs=tuple(runs), counts={"events": len(rows), "records": len(seen)})


def _resync(runner: Runner, entry: Entry, spec: JobSpec) -> JobResult:
    """Re-plan and apply the one record of an error (G11)."""
    row = next((r for r in list_errors(runner.store, entry.key) if str(r.id) == str(spec.record)), None)
    if row is None:
        raise JobFailed(f"profile {entry.key} has no error #{spec.record}")
    set_error_status(runner.store, row.id, "resynced")
    return _sync(runner, entry, JobSpec(spec.profile, "manual", spec.realm, row.source_key))


KINDS: Mapping[str, Callable[[Runner, Entry, JobSpec], JobResult]] = {
    "scheduled": _sync, "first": _sync, "manual": _sync, "event": _events, "resync": _resync,
}
