"""``passerelle run`` (the service), ``passerelle worker`` (a worker of the fleet), ``passerelle jobs`` and
``passerelle enqueue``; see docs/deployment.md."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli.output import handle_errors
from engine.errors import PasserelleError, RuleError
from engine.fleet.jobs import JobQueue
from engine.store import Store

__all__ = ["enqueue", "jobs", "run", "worker"]

_PROFILES = click.option("--profiles", "roots", multiple=True, type=click.Path(exists=True, path_type=Path),
                         help="A profile file or a folder of profiles (repeatable; default: rules/*/customers).")


@click.command()
@_PROFILES
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=4, show_default=True, type=int,
              help="Job threads in this process (SQLite store). With PostgreSQL, jobs run in `passerelle worker`s.")
@click.option("--tick", "tick_every", default=5.0, show_default=True, type=float, help="Seconds between scheduler ticks.")
@click.option("--rescan", "rescan_every", default=10.0, show_default=True, type=float,
              help="Seconds between looks for added, changed or removed profiles.")
@handle_errors
def run(*, roots: tuple[Path, ...], port: int, host: str, workers: int, tick_every: float, rescan_every: float) -> None:
    """Run every profile of the deployment: schedules, webhooks, product events, status."""
    import uvicorn

    from engine.fleet.app import create_app
    from engine.fleet.service import Service, ServiceOptions
    from engine.store import open_store

    store = open_store()
    service = Service(store, list(roots) or None, ServiceOptions(workers=workers, tick_every=tick_every,
                                                                 rescan_every=rescan_every))
    mode = (f"embedded queue, {workers} job threads" if service.embedded else
            "procrastinate on PostgreSQL: start `passerelle worker` processes to run the jobs")
    click.echo(f"passerelle run: {mode}; listening on http://{host}:{port}")
    uvicorn.run(create_app(service), host=host, port=port, log_level="info")


@click.command()
@_PROFILES
@click.option("--concurrency", default=1, show_default=True, type=int, help="Jobs this process runs at once.")
@click.option("--name", help="The worker's name in procrastinate's tables.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]),
              help="What the worker logs to stderr: jobs started and ended at info, the queue's own workings at debug.")
@handle_errors
def worker(roots: tuple[Path, ...], concurrency: int, name: str | None, log_level: str) -> None:
    """A worker of the fleet: runs jobs of any profile from the PostgreSQL state store's queue."""
    import logging

    from engine.fleet.deployment import Deployment
    from engine.fleet.pgqueue import ProcrastinateQueue
    from engine.fleet.runner import Runner
    from engine.fleet.scheduler import tick
    from engine.store import open_store

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store()
    if store.dialect != "postgresql":
        raise PasserelleError([RuleError("E705", "`passerelle worker` needs a PostgreSQL state store", None,
                                         hint="set PASSERELLE_STATE=postgresql://...; with SQLite, `passerelle run` "
                                              "runs the jobs itself")])
    deployment = Deployment(list(roots) or None, store)
    report = deployment.scan()
    for key in report.failed:
        click.echo(f"warning: {key}: {deployment.entries()[key].error}", err=True)
    runner = Runner(store, deployment)

    def scheduler_tick() -> None:
        deployment.scan()
        tick(store, deployment, queue)

    queue = ProcrastinateQueue(store, runner, tick=scheduler_tick)
    runner.defer_more = queue.defer
    click.echo(f"passerelle worker: {len(deployment.runnable())} profiles, concurrency {concurrency}", err=True)
    queue.run_worker(concurrency=concurrency, name=name)


def _queue(store: Store) -> JobQueue:
    from engine.fleet.service import ServiceOptions, open_queue

    return open_queue(store, None, ServiceOptions())


@click.command()
@click.option("--profile", help="Only this profile's jobs (its key, PACK/NAME).")
@click.option("--state", "states", multiple=True, type=click.Choice(["queued", "running", "done", "failed", "retried"]),
              help="Only jobs in this state (repeatable).")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def jobs(profile: str | None, states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Jobs of the service, newest first: queued, running, done, failed, retried."""
    from engine.store import open_store

    queue = _queue(open_store())
    try:
        found = queue.jobs(profile=profile, states=states, limit=limit)
    finally:
        queue.close()
    if as_json:
        click.echo(json.dumps([job.to_json() for job in found], indent=2))
        return
    if not found:
        click.echo("no jobs")
        return
    for job in found:
        spec = job.spec
        when = job.finished_at or job.started_at or job.queued_at
        extra = f" record {spec.record}" if spec.record else ""
        joined = f" (+{job.coalesced} joined)" if job.coalesced else ""
        click.echo(f"#{job.id:<6} {job.state:<8} {spec.kind:<9} {spec.profile}{extra}  attempts {job.attempts}{joined}"
                   f"  {when.isoformat(timespec='seconds') if when else ''}")
        if job.error and job.state in ("failed", "retried"):
            click.echo(f"        {job.error}", err=True)


@click.command()
@click.argument("profile")
@click.option("--kind", default="manual", show_default=True,
              type=click.Choice(["manual", "first", "resync", "scheduled"]))
@click.option("--record", help="manual: one source record's key; resync: the error id.")
@handle_errors
def enqueue(profile: str, kind: str, record: str | None) -> None:
    """Queue a job for PROFILE (a "sync now"); the service's workers run it."""
    from engine.fleet.deployment import Deployment
    from engine.fleet.jobs import JobSpec
    from engine.pipeline import find_profile
    from engine.store import open_store

    store = open_store()
    queue = _queue(store)
    try:
        deployment = Deployment([find_profile(profile)], store)
        deployment.scan()
        entry = next(iter(deployment.entries().values()), None)
        if entry is None or entry.error:
            raise PasserelleError([RuleError("E100", f"profile {profile!r}: {entry.error if entry else 'not found'}",
                                             None)])
        job_id = queue.defer(JobSpec(entry.key, kind, entry.realm, record))
    finally:
        queue.close()
    click.echo(f"job #{job_id}: {kind} of {entry.key} queued")
