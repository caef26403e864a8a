"""Benchmark: plan throughput and peak memory for N source invoices that the ledger already holds.

The FreshBooks demo profile's invoices flow plans N generated invoices (bench/mapping.py's
generator, produced one at a time) against a ledger holding every one of them with the payload
hash the planner computes, so each record is read, mapped, hashed, compared and counted as
unchanged (drafts, ~5 %, are skips with their reason, as in a real plan). The target is in memory
(reference data from bench/mapping.py, no HTTP), so the figure is the planner's own cost.

The ledger is built by a separate process (``--setup``) into a SQLite file, so its cost never
reaches the measuring process's peak. Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
after the plan minus the same before it (the high-water mark of the whole process, after the
pipeline, the store and the reference data are loaded): the memory the plan itself needed.

    .venv/bin/python -m bench.plan --records 100000 [--profile]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.mapping import PROFILE, iter_records, reference_data
from engine.build import freeze
from engine.context import ReferenceData
from engine.evaluate import evaluate
from engine.pipeline import Loaded, run_pipeline
from engine.runtime.canonical import payload_hash, to_plain
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import PlanOptions, make_plan, summary
from engine.store import Store, open_store
from engine.store.tables import ledger as ledger_table

__all__ = ["GeneratedSource", "MemoryTarget", "build_ledger", "main", "measure"]

FLOW = "invoices"
TODAY = "2025-06-30"


class MemoryTarget:
    """The planner's view of QBO, in memory: reference data only, no record to read back."""

    def __init__(self) -> None:
        self.refs = reference_data()
        self.gets = 0

    def reference_data(self) -> ReferenceData:
        return self.refs

    def get(self, entity: str, entity_id: str) -> Mapping[str, Any] | None:
        self.gets += 1
        return None

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return None

    def fingerprint(self) -> str:
        return "bench"


class GeneratedSource:
    """Generated FreshBooks invoices for the invoices resource, nothing for the others."""

    def __init__(self, count: int, resource: str) -> None:
        self.count, self.resource = count, resource

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        return iter_records(self.count) if resource == self.resource else iter(())


def _setup(loaded: Loaded, count: int) -> tuple[MemoryTarget, dict[str, GeneratedSource]]:
    flow = loaded.compiled.flows[FLOW].flow
    return MemoryTarget(), {flow.source.connection: GeneratedSource(count, flow.source.entity)}


def build_ledger(store: Store, loaded: Loaded, count: int) -> int:
    """The ledger of a profile that already synced ``count`` invoices: what apply would have recorded."""
    flow = loaded.compiled.flows[FLOW]
    refs = reference_data()
    settings = loaded.compiled.settings
    rows: list[dict[str, Any]] = []
    written = 0
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        for n, record in enumerate(iter_records(count)):
            result = evaluate(flow, freeze(record), settings, refs=refs, now=TODAY)
            if result.action != "write":
                continue
            payload = to_plain(result.payload)
            rows.append({"profile": loaded.resolved.key, "flow": FLOW, "source_key": result.key,
                         "target_entity": result.entity, "target_id": str(n + 1), "sync_token": "0",
                         "payload_hash": payload_hash({"payload": payload, "entity": result.entity}),
                         "fields": payload, "state": None, "origin": "passerelle", "updated_at": now})
            if len(rows) == 1000:
                conn.execute(sa.insert(ledger_table), rows)
                written += len(rows)
                rows.clear()
        if rows:
            conn.execute(sa.insert(ledger_table), rows)
            written += len(rows)
    return written


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(db: Path, count: int, *, profile: bool = False) -> dict[str, str]:
    loaded = run_pipeline(PROFILE)
    store = open_store(f"sqlite:///{db}")
    target, sources = _setup(loaded, count)
    options = PlanOptions(today=TODAY)
    gc.collect()
    before = _maxrss_mb()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    start = time.perf_counter()
    plan = make_plan(loaded, target, sources, StoreLedger(store, loaded.resolved.key), options)
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False), file=sys.stderr)
    peak = _maxrss_mb() - before
    counts = summary(plan).get("Invoice", {})
    if counts.get("unchanged", 0) + counts.get("skip", 0) != count or plan.has_changes or target.gets:
        raise AssertionError(f"the ledger should hold every invoice unchanged: {counts}, {target.gets} reads")
    return {"plan_records": str(count), "plan_unchanged": str(counts.get("unchanged", 0)),
            "plan_skips": str(counts.get("skip", 0)), "plan_seconds": f"{elapsed:.2f}",
            "plan_records_per_s": f"{count / elapsed:.0f}", "plan_peak_mb": f"{peak:.1f}",
            "plan_rss_before_mb": f"{before:.1f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="the SQLite ledger (default: a temporary file built first)")
    parser.add_argument("--setup", action="store_true", help="only build the ledger into --db")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the plan, on stderr")
    args = parser.parse_args(argv)
    if args.setup:
        loaded = run_pipeline(PROFILE)
        print(f"plan_ledger_rows={build_ledger(open_store(f'sqlite:///{args.db}'), loaded, args.records)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "ledger.db"
        if args.db is None:
            subprocess.run([sys.executable, "-m", "bench.plan", "--setup", "--records", str(args.records),
                            "--db", str(db)], check=True, stdout=subprocess.DEVNULL, env=dict(os.environ))
        for key, value in measure(db, args.records, profile=args.profile).items():
            print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
