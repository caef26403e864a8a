"""Progress of plans and applies: rich on a terminal, plain lines otherwise (logs, CI).

A plan's progress goes to stderr, so ``plan --json > plan.json`` stays clean; a plan does not know how
many records its sources hold, so it shows counts and a rate rather than an ETA. Off a terminal it
prints a line every ``PLAIN_EVERY`` seconds (a quick plan prints none)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from engine.runtime.apply import Progress as ProgressCallback
from engine.runtime.plan import PlanProgress
from engine.runtime.plan import ProgressCallback as PlanCallback

__all__ = ["PLAIN_EVERY", "plan_progress", "progress_reporter"]

PLAIN_EVERY = 5.0  # seconds between plain progress lines


def _describe(p: PlanProgress, elapsed: float) -> str:
    rate = f", {p.read / elapsed:.0f}/s" if elapsed > 0 else ""
    return (f"{p.read} records read ({p.flow}): {p.changes} changes, {p.matched} matched in QBO, "
            f"{p.unchanged} unchanged{rate}")


@contextmanager
def plan_progress() -> Iterator[PlanCallback]:
    start = time.monotonic()
    if sys.stderr.isatty():
        columns = (TextColumn("[bold]planning"), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("reading records", total=None)

            def update(p: PlanProgress) -> None:
                bar.update(task, description=_describe(p, time.monotonic() - start))

            yield update
        return
    last = start

    def plain(p: PlanProgress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PLAIN_EVERY:
            last = now
            click.echo(f"planning: {_describe(p, now - start)}", err=True)

    yield plain


@contextmanager
def progress_reporter(total_hint: str = "applying") -> Iterator[ProgressCallback]:
    if sys.stdout.isatty():
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[last]}"))
        with Progress(*columns, console=Console(), transient=False) as bar:
            task = bar.add_task(total_hint, total=None, last="")

            def update(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, last=label)

            yield update
        return

    def plain(done: int, total: int, label: str) -> None:
        click.echo(f"[{done}/{total}] {label}")

    yield plain
