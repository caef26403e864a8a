"""bench/RESULTS.md: the figures of one run with the machine, date and commit they were measured on.

Kept apart from bench/run.py so the page's wording (what each figure means, its target) lives in one
place; bench/README.md explains how each figure is derived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

__all__ = ["BEFORE", "MEANING", "TARGETS", "write_results"]

TARGETS = {"mapping_ratio": ("<=", 2.0), "apply_ceiling_ratio": (">=", 0.8), "apply_vs_plain_loop": (">=", 3.0),
           "first_plan_requests_per_1k": ("<=", 3.0), "first_plan_records_per_s": (">=", 500.0),
           "first_sync_docs_per_min": (">=", 1080.0), "replan_1k_unchanged_requests": ("<=", 5.0),
           "cli_plan_peak_mb": ("<=", 300.0), "apply_unlimited_docs_per_s_10k": (">=", 300.0),
           "apply_unlimited_docs_per_s_10k_pg": (">=", 200.0), "apply_unlimited_flatness": (">=", 0.8),
           "apply_unlimited_flatness_pg": (">=", 0.8), "apply_store_statements_per_doc": ("<=", 1.0),
           "plan_json_seconds_10k": ("<=", 5.0), "cli_apply_peak_mb": ("<=", 300.0),
           "fleet_profiles": (">=", 40.0), "fleet_scale_4w": (">=", 3.0), "fleet_max_in_flight_per_company": ("<=", 10.0),
           "fleet_max_requests_per_min_per_company": ("<=", 500.0), "fleet_duplicates": ("<=", 0.0),
           "fleet_lost": ("<=", 0.0)}

# Figures measured before issue 17's last part (memory of new records, DocNumber index), the same bench
# scripts: bench/README.md's issue 17 section says where each comes from. Shown beside this run's.
BEFORE = {"first_plan_requests_per_1k": "1.4", "first_plan_records_per_s": "792", "first_plan_peak_mb": "236",
          "first_sync_docs_per_min": "1053", "replan_1k_unchanged_requests": "3", "cli_plan_peak_mb": "183",
          "cli_apply_peak_mb": "183", "apply_store_statements_per_doc": "0.27",
          "apply_unlimited_docs_per_s_3k": "203", "apply_unlimited_docs_per_s_10k": "506",
          "apply_unlimited_docs_per_s_3k_pg": "191", "apply_unlimited_docs_per_s_10k_pg": "83",
          "apply_unlimited_flatness_pg": "0.43", "plan_json_seconds_10k": "1.28", "mapping_ratio": "2.50",
          "plan_peak_mb_100k": "17.1", "apply_docs_per_min": "1180", "apply_ceiling_ratio": "0.98"}

MEANING = {
    "first_plan_peak_mb": "peak RSS of `passerelle plan` of the new invoices (every one a create), MB",
    "cli_plan_peak_mb_new": "peak RSS of the whole `passerelle plan` process, every record new (creates), MB",
    "validate_ms_rules": "`passerelle validate rules/` (all packs and profiles), median ms",
    "mapping_ratio": "compiled mapping time / hand-written Python time (bench/mapping.py)",
    "plan_records_per_s": "plan throughput, unchanged invoices, largest size",
    "plan_peak_mb": "peak memory growth of the planning process (ru_maxrss after - before the plan), MB",
    "apply_docs_per_min": "Passerelle apply of invoice creates on the sandbox, QBO limits, latency per request",
    "apply_ceiling_ratio": "Passerelle / theoretical ceiling (40 batch calls x 30 docs per minute = 1200)",
    "apply_vs_plain_loop": "Passerelle / a plain python-quickbooks loop (one request per document)",
    "webhook_acks_per_s": "webhook notifications acknowledged per second on one core, each under 3 s",
    "first_plan_requests_per_1k": "`passerelle plan` of new invoices through the CLI: QBO requests per 1000 records",
    "first_plan_records_per_s": "`passerelle plan` of new invoices through the CLI, sandbox at QBO limits + latency",
    "first_sync_docs_per_min": "`passerelle apply PROFILE --yes` (plan + apply), documents incl. created refs / min",
    "replan_1k_unchanged_requests": "`passerelle plan` right after the first sync of 1000 invoices: QBO requests",
    "cli_plan_peak_mb": "peak RSS of the whole `passerelle plan` process, records already in the ledger, MB",
    "cli_apply_peak_mb": "peak RSS of the whole `passerelle apply --yes` process, records already in the ledger, MB",
    "apply_unlimited_docs_per_s": "apply of invoice creates, QBO's limits lifted (sandbox in its own process), docs/s",
    "apply_unlimited_cpu_ms_per_doc": "the applying process's CPU per document (the sandbox's excluded), ms",
    "apply_unlimited_flatness": "apply_unlimited docs/s of the largest run / of the smallest (1 = flat in the run's size)",
    "apply_store_statements_per_doc": "state-store statements per applied document (SQLAlchemy cursor executes)",
    "plan_json_seconds": "writing `plan --json` of N changes (a change at a time), seconds",
    "plan_json_whole_document_seconds": "the same plan as one document built whole (the former path), seconds",
    "fleet_docs_per_min": "documents written by N `passerelle worker` processes on PostgreSQL, 40 profiles, 8 companies",
    "fleet_scale_4w": "fleet throughput with 4 workers / with 1 (sandbox latency per request: I/O-bound work)",
    "fleet_max_in_flight_per_company": "peak requests in flight on one company, as the sandbox counted them",
    "fleet_max_requests_per_min_per_company": "peak requests in any sliding minute on one company (sandbox count)",
    "fleet_duplicates": "documents written twice after two workers were SIGKILLed mid-run",
    "fleet_lost": "documents missing after two workers were SIGKILLed mid-run",
    "fleet_jobs_per_webhook_burst": "distinct jobs made by 500 signed notifications for one company",
}


def _verdict(key: str, value: str, figures: Mapping[str, str]) -> str:
    try:
        number = float(value)
    except ValueError:
        return ""
    if key == "plan_peak_mb_100k" and "plan_peak_mb_10k" in figures:
        limit = 1.5 * max(float(figures["plan_peak_mb_10k"]), 1.0)
        return f"target <= 1.5 x 10k ({limit:.1f}): " + ("met" if number <= limit else "NOT met")
    if key in TARGETS or key.startswith("cli_plan_peak_mb_new_"):
        op, bound = TARGETS.get(key, TARGETS["cli_plan_peak_mb"])
        ok = number <= bound if op == "<=" else number >= bound
        return f"target {op} {bound:g}: " + ("met" if ok else "NOT met")
    return ""


def _meaning(key: str) -> str:
    if key.startswith("compile_ms_"):
        return f"`run_pipeline(rules/{key.removeprefix('compile_ms_')})`, median ms"
    for prefix, text in MEANING.items():
        if key.startswith(prefix):
            return text
    return ""


def write_results(path: Path, figures: Mapping[str, str], machine: Mapping[str, str], mode: str, sizes: Any) -> None:
    lines = ["# Benchmark results", "",
             f"Written by `bench/run.py{' --' + mode if mode != 'full' else ''}`; how each figure is measured: "
             "bench/README.md.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine.items()]
    lines += ["", "| figure | value | before | what | verdict |", "|---|---|---|---|---|"]
    for key, value in figures.items():
        before = BEFORE.get(key, "")
        lines.append(f"| `{key}` | {value} | {before} | {_meaning(key)} | {_verdict(key, value, figures)} |")
    if is_dataclass(sizes):
        lines += ["", "Sizes of this run: " + ", ".join(f"{k}={v}" for k, v in asdict(sizes).items())]
    notes = [v for k, v in figures.items() if k.endswith("_note")]
    if notes:
        lines += ["", *notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
