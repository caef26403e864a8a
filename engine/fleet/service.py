"""The service process: the deployment kept current, the scheduler ticking, the embedded workers (with a
SQLite store) and the HTTP front door (``app.py``).

With a PostgreSQL store the jobs are run by ``passerelle worker`` processes on any machine, whose
periodic task ticks the scheduler; this process then only receives webhooks, defers jobs and reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.fleet.deployment import Deployment
from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.housekeeping import prune
from engine.fleet.jobs import JobQueue
from engine.fleet.runner import JobFailed, Runner
from engine.fleet.scheduler import tick
from engine.serve.hub import Hub
from engine.store import Store

__all__ = ["Service", "ServiceOptions", "open_queue"]

log = logging.getLogger("passerelle.fleet")


@dataclass(frozen=True)
class ServiceOptions:
    workers: int = 4          # embedded worker threads (SQLite store); 0 with PostgreSQL: workers are processes
    tick_every: float = 5.0   # seconds between scheduler ticks
    rescan_every: float = 10.0  # seconds between looks at the profile folders
    retry_delay: float = 5.0
    max_attempts: int = 3
    session_options: Mapping[str, Any] = field(default_factory=dict)


def open_queue(store: Store, runner: Runner | None, options: ServiceOptions) -> JobQueue:
    """procrastinate on PostgreSQL, the embedded queue otherwise."""
    if store.dialect == "postgresql":
        from engine.fleet.pgqueue import ProcrastinateQueue
        return ProcrastinateQueue(store, runner, max_attempts=options.max_attempts,
                                  retry_wait=int(options.retry_delay))
    return EmbeddedQueue(store, runner, workers=options.workers, max_attempts=options.max_attempts,
                         retry_delay=options.retry_delay, permanent=(JobFailed,))


class Service:
    def __init__(self, store: Store, roots: list[Path] | None, options: ServiceOptions | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.store, self.options = store, options or ServiceOptions()
        self.hub = Hub()
        self.deployment = Deployment(roots, store, env)
        self.runner = Runner(store, self.deployment, self.options.session_options, publish=self.hub.publish)
        self.queue = open_queue(store, self.runner, self.options)
        self.runner.defer_more = self.queue.defer
        self.embedded = isinstance(self.queue, EmbeddedQueue)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        report = self.deployment.scan()
        for key in report.failed:
            log.error("%s: %s", key, self.deployment.entries()[key].error)
        if isinstance(self.queue, EmbeddedQueue):
            self.queue.start()
        self._thread = threading.Thread(target=self._loop, name="passerelle-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.queue.close()

    def tick(self) -> None:
        tick(self.store, self.deployment, self.queue)

    def _loop(self) -> None:
        next_scan = next_tick = next_prune = 0.0
        step = min(self.options.tick_every, self.options.rescan_every, 1.0)
        while not self._stop.is_set():
            clock = time.monotonic()
            try:
                if clock >= next_scan:
                    report = self.deployment.scan()
                    if report.added or report.removed or report.changed:
                        log.info("profiles: +%d ~%d -%d", len(report.added), len(report.changed), len(report.removed))
                    next_scan = clock + self.options.rescan_every
                if self.embedded and clock >= next_tick:
                    self.tick()
                    next_tick = clock + self.options.tick_every
                if clock >= next_prune:
                    prune(self.store)
                    next_prune = clock + 3600
            except Exception:  # the loop must outlive a database hiccup
                log.exception("service loop")
            self._stop.wait(step)
