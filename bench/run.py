"""The benchmark suite: every figure of bench/README.md in one run, written to bench/RESULTS.md.

    .venv/bin/python -m bench.run            # full run (about an hour on 2 cores; the first sync alone ~9 min)
    .venv/bin/python -m bench.run --quick    # shorter sizes and windows (< 10 min); same figures
    .venv/bin/python bench/run.py --quick    # the same, as a script

Each piece runs in its own subprocess (``python -m bench.<piece>``) and prints ``key=value`` lines,
so a piece's imports, caches and memory never leak into the next one's figures, and a piece can be
run alone. The run ends by printing the headline figures, one ``key=value`` per line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/run.py
    sys.path.insert(0, str(ROOT))

from bench.results import write_results  # noqa: E402

__all__ = ["HEADLINE", "PIECES", "Sizes", "main", "run_piece"]

# Headline keys in print order; compile_ms_<pack> keys are added in front of these.
HEADLINE = ("validate_ms_rules", "mapping_ratio", "plan_peak_mb_1k", "plan_peak_mb_10k", "plan_peak_mb_100k",
            "plan_records_per_s", "apply_docs_per_min", "apply_ceiling_ratio", "apply_vs_plain_loop",
            "webhook_acks_per_s", "sandbox_startup_ms", "first_plan_requests_per_1k", "first_plan_records_per_s",
            "first_sync_seconds", "first_sync_docs_per_min", "replan_1k_unchanged_requests", "cli_plan_peak_mb",
            "apply_unlimited_docs_per_s_3k", "apply_unlimited_docs_per_s_10k", "apply_unlimited_docs_per_s_3k_pg",
            "apply_unlimited_docs_per_s_10k_pg", "apply_store_statements_per_doc", "plan_json_seconds_10k",
            "cli_apply_peak_mb", "fleet_profiles", "fleet_docs_per_min_1w", "fleet_docs_per_min_2w",
            "fleet_docs_per_min_4w", "fleet_scale_4w", "fleet_max_in_flight_per_company",
            "fleet_max_requests_per_min_per_company", "fleet_duplicates", "fleet_lost", "fleet_jobs_per_webhook_burst",
            "impact_unchanged_s", "impact_row_edit_s", "impact_row_edit_cpu_s")


@dataclass(frozen=True)
class Sizes:
    """What a mode measures: record counts, and the apply's measurement window."""

    compile_repeat: int
    mapping_records: int
    plan_sizes: tuple[tuple[str, int], ...]
    apply_windows: int        # rate-limit windows measured
    apply_window_s: float     # one window (QBO: 60 s; --quick scales it down with the limits)
    plain_docs: int           # documents the python-quickbooks loop sends
    webhook_events: int
    first_plan_records: int   # bench/first_sync.py: new invoices planned through the CLI
    first_sync_records: int   # invoices of the first sync (plan + apply) through the CLI
    memory_records: int       # invoices of the CLI's peak-memory figures
    latency_ms: float
    fleet: tuple[str, ...] = ()  # bench/fleet.py's arguments; ("off",) skips it (the smoke test)
    unlimited_sizes: tuple[int, ...] = (3_000, 10_000)  # bench/apply_unlimited.py: creates per run
    plan_json_changes: int = 10_000  # bench/plan_json.py
    impact: tuple[str, ...] = ("--profiles", "50")  # bench/impact.py's arguments
    startup: tuple[str, ...] = ("--runs", "5", "--companies", "1", "--companies", "50")  # bench/sandbox_startup.py's


FULL = Sizes(7, 100_000, (("1k", 1_000), ("10k", 10_000), ("100k", 100_000)), 3, 60.0, 150, 3000,
             10_000, 8_800, 100_000, 200)  # a first sync of 8,800 invoices is about 10,000 documents with its refs
QUICK = Sizes(5, 20_000, (("1k", 1_000), ("10k", 10_000), ("100k", 100_000)), 2, 15.0, 60, 1000,
              2_000, 1_000, 20_000, 200, ("--quick",))
TINY = Sizes(1, 30, (("1k", 20), ("10k", 40), ("100k", 60)), 1, 1.5, 2, 20, 20, 10, 30, 0, ("off",),
             unlimited_sizes=(20, 40), plan_json_changes=20, startup=("--runs", "1", "--companies", "1"),
             impact=("--profiles", "1", "--no-cli"))  # the smoke test


def run_piece(module: str, args: Sequence[str], *, timeout: float = 900) -> dict[str, str]:
    """Run ``python -m bench.<module> args`` in a fresh process; its ``key=value`` lines as a dict."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", f"bench.{module}", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    figures = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            figures[key] = value
    return figures


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, str]:
    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "commit": _commit(),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(os.cpu_count()), "processor": platform.processor() or platform.machine()}


PIECES = ("compile", "mapping", "plan", "apply", "first_sync", "apply_unlimited", "plan_json", "webhook",
          "sandbox_startup", "impact", "fleet")


def collect(sizes: Sizes, *, log: bool = True, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every piece's figures (but those in ``skip``); ``plan_records_per_s`` is the largest size's."""
    figures: dict[str, str] = {}

    def step(name: str, module: str, args: list[str], timeout: float = 900) -> dict[str, str]:
        if module in skip:
            return {}
        start = time.perf_counter()
        got = run_piece(module, args, timeout=timeout)
        if log:
            print(f"# {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        figures.update(got)
        return got

    step("compile", "compile", ["--repeat", str(sizes.compile_repeat)])
    step("mapping", "mapping", ["--records", str(sizes.mapping_records), "--sample", str(min(500, sizes.mapping_records))])
    for label, count in sizes.plan_sizes if "plan" not in skip else ():
        got = step(f"plan {label}", "plan", ["--records", str(count)])
        figures[f"plan_peak_mb_{label}"] = got["plan_peak_mb"]
        figures[f"plan_records_per_s_{label}"] = got["plan_records_per_s"]
        figures["plan_records_per_s"] = got["plan_records_per_s"]
    step("apply", "apply", ["--window", f"{sizes.apply_window_s:g}", "--windows", str(sizes.apply_windows),
                            "--plain-docs", str(sizes.plain_docs)])
    step("first sync through the CLI", "first_sync", [
        "--records", str(sizes.first_plan_records), "--sync-records", str(sizes.first_sync_records),
        "--memory-records", str(sizes.memory_records), "--memory-new-records", str(sizes.memory_records),
        "--latency-ms", f"{sizes.latency_ms:g}"], timeout=3600)
    step("apply with QBO's limits lifted", "apply_unlimited", ["--sizes", ",".join(map(str, sizes.unlimited_sizes)),
                                                        "--labels", "3k,10k"],
         timeout=3600)
    step("plan --json", "plan_json", ["--changes", str(sizes.plan_json_changes), "--label", "10k"])
    if "webhook" not in skip:
        figures.update(run_webhook(sizes))
    step("sandbox start-up", "sandbox_startup", list(sizes.startup))
    step("change impact over a pack's profiles", "impact", list(sizes.impact))
    if sizes.fleet != ("off",):
        step("fleet of worker processes on PostgreSQL", "fleet", list(sizes.fleet), timeout=3600)
    return figures


def run_webhook(sizes: Sizes) -> dict[str, str]:
    """The webhook receiver's figure, once engine/serve (issue 7) is in git and bench/webhook.py exists."""
    tracked = subprocess.run(["git", "ls-files", "engine/serve/app.py"], cwd=ROOT, text=True, capture_output=True,
                             check=False).stdout.strip()
    if not tracked or not (ROOT / "bench" / "webhook.py").is_file():
        return {"webhook_acks_per_s": "n/a",
                "webhook_note": "webhook_acks_per_s: n/a - no receiver benchmark yet (issue 7's engine/serve was "
                                "being built during this work; see bench/README.md)."}
    return run_piece("webhook", ["--events", str(sizes.webhook_events)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter sizes and windows (< 10 min)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: proves the suite runs (the smoke test)")
    parser.add_argument("--skip", default="", help=f"pieces not run, comma-separated ({', '.join(PIECES)})")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md",
                        help="where to write the results (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    sizes, mode = (TINY, "tiny") if args.tiny else (QUICK, "quick") if args.quick else (FULL, "full")
    skip = frozenset(p for p in args.skip.split(",") if p)
    if skip - set(PIECES):
        parser.error(f"unknown pieces: {', '.join(sorted(skip - set(PIECES)))}")
    figures = collect(sizes, log=not args.tiny, skip=skip)
    if skip:
        figures["skipped_note"] = f"Not run this time (--skip): {', '.join(sorted(skip))}."
    write_results(args.results, figures, machine(), mode, sizes)
    keys = [k for k in figures if k.startswith("compile_ms_")] + list(HEADLINE)
    for key in keys:
        print(f"{key}={figures.get(key, 'n/a')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
