"""Apply progress: a rich bar with counts and ETA on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from engine.runtime.apply import Progress as ProgressCallback

__all__ = ["progress_reporter"]


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
