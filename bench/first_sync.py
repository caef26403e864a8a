"""Benchmark: what a new user runs — a first sync through the CLI against the sandbox with QBO's limits.

A ``passerelle sandbox --latency MS`` subprocess (QBO's quotas on: 500 requests and 40 batch calls a
minute, 10 at once) holds a French company with a pool of customers and items; a profile of the real
FreshBooks pack reads generated invoices from a file (10 lines each, ~5 % drafts; a new customer for
10 % of them and a new item for another 10 %, the rest already in QBO). Every figure is a ``passerelle``
subprocess, timed from launch to exit, its requests counted by the sandbox (``/admin/load``) and its
peak RSS read from ``wait4``:

- ``first_plan_*``: ``passerelle plan`` of ``--records`` new invoices on an empty state store;
- ``first_sync_*``: ``passerelle apply PROFILE --yes`` (plan + apply) of ``--sync-records`` invoices;
  documents = invoices + the customers and items created for them;
- ``replan_1k_unchanged_*``: ``passerelle plan`` again after that sync (nothing left to do);
- ``cli_plan_peak_mb_*`` / ``cli_apply_peak_mb_*``: ``passerelle plan`` and ``apply --yes`` of
  ``--memory-records`` invoices the ledger already holds (built by a separate process).
- ``cli_plan_peak_mb_new_*``: ``passerelle plan`` of ``--memory-new-records`` new invoices (all creates).

    .venv/bin/python -m bench.first_sync [--records 10000] [--sync-records 1000] [--memory-records 100000]
        [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx

__all__ = ["CliRun", "iter_invoices", "main", "run_cli"]

ROOT = Path(__file__).resolve().parent.parent
REALM = "9341450000000001"
TOKEN = "bench-first-sync"
CEILING_PER_MIN = 1200  # 40 batch calls x 30 documents
FIRST = ["Claire", "Jean", "Amélie", "Paul", "Sophie", "Marc", "Lucie", "Hugo", "Emma", "Louis"]
LAST = ["Moreau", "Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Roux", "Fournier", "Girard"]
ITEMS = [f"Product {i:03d}" for i in range(60)]
TAXES = ["VAT 20", "VAT 10", "VAT 5.5", None]
RATES = {"VAT 20": "20", "VAT 10": "10", "VAT 5.5": "5.5", None: None}
PROFILE = """passerelle: 1
kind: profile
profile: {{name: bench}}
pack: freshbooks
settings: {{invoice_prefix: "B", create_items: true, start_date: "2024-01-01"}}
connections:
  product:
    connector: file
    resources:
      invoices: {{path: {invoices}, id: invoiceid}}
      payments: {{path: empty.json, id: paymentid}}
      expenses: {{path: empty.json, id: expenseid}}
"""


def iter_invoices(count: int, seed: int = 11, offset: int = 0, *, new: bool = True) -> Iterator[dict[str, Any]]:
    """FreshBooks invoices; invoice n has a new customer when n % 10 == 3 and a new item when n % 10 == 7
    (with ``new``; else every customer and item exists already)."""
    rng = random.Random(seed)
    new_customer, new_item = (3, 7) if new else (-1, -1)
    for n in range(offset, offset + count):
        lines = []
        for i in range(10):
            qty = rng.choice(["1", "2", "3", "0.5"])
            unit = f"{rng.randint(1, 50000) / 100:.2f}"
            tax = rng.choice(TAXES)
            name = f"New product {n}" if n % 10 == new_item and i == 0 else rng.choice(ITEMS)
            lines.append({"lineid": i + 1, "name": name, "description": rng.choice(["", "Work done", None]),
                          "qty": qty, "unit_cost": {"amount": unit, "code": "EUR"}, "taxName1": tax,
                          "taxAmount1": RATES[tax]})
        total = sum((Decimal(ln["qty"]) * Decimal(ln["unit_cost"]["amount"]) * (1 + Decimal(ln["taxAmount1"] or 0)
                                                                               / 100)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP) for ln in lines)
        created = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 360))
        fname, lname = (f"New{n}", "Client") if n % 10 == new_customer else (rng.choice(FIRST), rng.choice(LAST))
        yield {"invoiceid": 100000 + n, "invoice_number": str(5000 + n),
               "v3_status": rng.choices(["paid", "sent", "viewed", "draft"], [40, 30, 25, 5])[0],
               "create_date": created.isoformat(), "due_date": (created + dt.timedelta(days=30)).isoformat(),
               "fname": fname, "lname": lname, "organization": "", "email": "",
               "currency_code": "EUR", "amount": {"amount": str(total), "code": "EUR"},
               "discount_total": {"amount": "0"}, "lines": lines}


def write_invoices(path: Path, count: int, offset: int = 0, *, new: bool = True) -> None:
    """A JSON array written one record at a time (the generator never holds the file's records)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for n, record in enumerate(iter_invoices(count, offset=offset, new=new)):
            out.write(("," if n else "") + json.dumps(record, ensure_ascii=False) + "\n")
        out.write("]\n")


@dataclass(frozen=True)
class CliRun:
    seconds: float
    peak_mb: float
    requests: int
    batches: int
    output: str


class Sandbox:
    """``passerelle sandbox`` as a subprocess on a free port."""

    def __init__(self, latency_ms: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "sandbox", "--port", "0", "--preset", "fr",
                                      "--latency", f"{latency_ms:g}", "--static-token", TOKEN],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = re.search(r"QBO sandbox on (http://\S+)", line)
            if found:
                self.base = found.group(1)
                break
        else:
            raise RuntimeError("the sandbox did not start")
        self.http = httpx.Client(base_url=self.base, timeout=120,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})

    def load(self) -> tuple[int, int]:
        figures = self.http.get("/admin/load").json().get(REALM) or {}
        return int(figures.get("requests", 0)), int(figures.get("batch_calls", figures.get("batches", 0)))

    def query(self, text: str) -> dict[str, Any]:
        answer = self.http.post(f"/v3/company/{REALM}/query", content=text.encode(),
                                headers={"Content-Type": "application/text"})
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()["QueryResponse"]
        return result

    def seed(self) -> None:
        """The company's existing customers (every FIRST x LAST name) and items (ITEMS)."""
        account = self.query("SELECT * FROM Account WHERE Name = 'Prestations de services'")["Account"][0]["Id"]
        bodies = [("Customer", {"DisplayName": f"{f} {last}", "GivenName": f, "FamilyName": last})
                  for f in FIRST for last in LAST]
        bodies += [("Item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account}})
                   for name in ITEMS]
        for start in range(0, len(bodies), 30):
            items = [{"bId": str(n), "operation": "create", entity: body}
                     for n, (entity, body) in enumerate(bodies[start:start + 30])]
            self.http.post(f"/v3/company/{REALM}/batch", json={"BatchItemRequest": items}).raise_for_status()

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_cli(args: list[str], env: dict[str, str], sandbox: Sandbox | None) -> CliRun:
    """One ``passerelle`` command in a fresh process: wall time, peak RSS (wait4) and QBO requests."""
    before = sandbox.load() if sandbox else (0, 0)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"passerelle {' '.join(args)} exited {proc.returncode}:\n{text[-4000:]}")
    after = sandbox.load() if sandbox else (0, 0)
    return CliRun(elapsed, usage.ru_maxrss / 1024, after[0] - before[0], after[1] - before[1], text)


def _workspace(tmp: Path, count: int, name: str, *, new: bool = True) -> tuple[Path, dict[str, str]]:
    folder = tmp / name
    folder.mkdir()
    write_invoices(folder / "invoices.json", count, new=new)
    (folder / "empty.json").write_text("[]", encoding="utf-8")
    profile = folder / "bench.yaml"
    profile.write_text(PROFILE.format(invoices="invoices.json"), encoding="utf-8")
    env = {**os.environ, "PASSERELLE_STATE": str(folder / "state.db"), "PASSERELLE_QBO_REALM": REALM,
           "PASSERELLE_QBO_ACCESS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return profile, env


def _applied(output: str) -> int:
    """Documents written, from apply's summary line (invoices and the references created for them)."""
    found = re.search(r"Applied \(run \d+\): (.*)", output)
    if not found:
        raise RuntimeError(f"no apply summary in:\n{output[-2000:]}")
    counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)", found.group(1)))
    return counts.get("create", 0) + counts.get("created references", 0) + counts.get("adopt", 0)


def measure_sandbox(records: int, sync_records: int, latency_ms: float, tmp: Path) -> dict[str, str]:
    figures: dict[str, str] = {}
    sandbox = Sandbox(latency_ms)
    try:
        sandbox.seed()
        if records:
            profile, env = _workspace(tmp, records, "plan")
            env["PASSERELLE_QBO_BASE_URL"] = sandbox.base
            run = run_cli(["plan", str(profile)], env, sandbox)
            figures.update({"first_plan_records": str(records), "first_plan_qbo_requests": str(run.requests),
                            "first_plan_requests_per_1k": f"{run.requests / records * 1000:.1f}",
                            "first_plan_seconds": f"{run.seconds:.1f}",
                            "first_plan_records_per_s": f"{records / run.seconds:.0f}",
                            "first_plan_peak_mb": f"{run.peak_mb:.0f}"})
        if sync_records:
            profile, env = _workspace(tmp, sync_records, "sync")
            env["PASSERELLE_QBO_BASE_URL"] = sandbox.base
            run = run_cli(["apply", str(profile), "--yes"], env, sandbox)
            docs = _applied(run.output)
            figures.update({"first_sync_records": str(sync_records), "first_sync_docs": str(docs),
                            "first_sync_seconds": f"{run.seconds:.1f}", "first_sync_qbo_requests": str(run.requests),
                            "first_sync_docs_per_min": f"{docs / run.seconds * 60:.0f}",
                            "first_sync_ceiling_ratio": f"{docs / run.seconds * 60 / CEILING_PER_MIN:.2f}"})
            again = run_cli(["plan", str(profile), "--detailed-exitcode"], env, sandbox)
            scale = 1000 / sync_records
            figures.update({"replan_1k_unchanged_requests": f"{again.requests * scale:.1f}",
                            "replan_1k_unchanged_seconds": f"{again.seconds * scale:.1f}",
                            "replan_unchanged_exit": "0" if "nothing to do" in again.output.lower()
                            or "no change" in again.output.lower() else "changes"})
    finally:
        sandbox.close()
    return figures


def build_ledger(profile: Path, base: str) -> int:
    """The ledger of a profile that synced every invoice of its file: what apply would have recorded, hashed
    against the sandbox's reference data (run in its own process: its memory is not the CLI's)."""
    import sqlalchemy as sa

    from connectors.qbo_session import open_qbo
    from connectors.sources import sources_for_pack
    from engine.build import freeze
    from engine.evaluate import evaluate
    from engine.pipeline import run_pipeline
    from engine.runtime.canonical import to_plain
    from engine.runtime.plan import payload_digest
    from engine.store import open_store
    from engine.store.tables import ledger as ledger_table

    loaded = run_pipeline(profile)
    store = open_store()
    target = open_qbo(loaded.resolved, store, token=TOKEN, realm=REALM, env={"PASSERELLE_QBO_BASE_URL": base})
    refs = target.reference_data()
    flow = loaded.compiled.flows["invoices"]
    source = sources_for_pack(loaded.resolved)["product"]
    now, written, rows = dt.datetime.now(dt.UTC), 0, []
    with store.engine.begin() as conn:
        for record in source.records("invoices"):
            result = evaluate(flow, freeze(record), loaded.compiled.settings, refs=refs, now=dt.date.today().isoformat())
            if result.action != "write":
                continue
            payload = to_plain(result.payload)
            written += 1
            rows.append({"profile": loaded.resolved.key, "flow": "invoices", "source_key": result.key,
                         "target_entity": result.entity, "target_id": str(written), "sync_token": "0",
                         "payload_hash": payload_digest(payload, result.entity), "fields": payload, "state": None,
                         "origin": "passerelle", "updated_at": now})
            if len(rows) == 1000:
                conn.execute(sa.insert(ledger_table), rows)
                rows.clear()
        if rows:
            conn.execute(sa.insert(ledger_table), rows)
    target.client.close()
    return written


def measure_memory(records: int, latency_ms: float, tmp: Path) -> dict[str, str]:
    """Peak RSS of ``passerelle plan`` and ``apply --yes`` of ``records`` invoices the ledger holds already."""
    sandbox = Sandbox(latency_ms)
    try:
        sandbox.seed()
        profile, env = _workspace(tmp, records, "memory", new=False)
        env["PASSERELLE_QBO_BASE_URL"] = sandbox.base
        subprocess.run([sys.executable, "-m", "bench.first_sync", "--build-ledger", str(profile), "--base",
                        sandbox.base], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        plan = run_cli(["plan", str(profile)], env, sandbox)
        apply = run_cli(["apply", str(profile), "--yes"], env, sandbox)
    finally:
        sandbox.close()
    label = f"{records // 1000}k" if records >= 1000 else str(records)
    return {"cli_plan_peak_mb": f"{plan.peak_mb:.0f}", "cli_apply_peak_mb": f"{apply.peak_mb:.0f}",
            "cli_memory_records": str(records), f"cli_plan_peak_mb_{label}": f"{plan.peak_mb:.0f}",
            f"cli_plan_seconds_{label}": f"{plan.seconds:.1f}",
            f"cli_plan_qbo_requests_{label}": str(plan.requests),
            f"cli_apply_peak_mb_{label}": f"{apply.peak_mb:.0f}", f"cli_apply_seconds_{label}": f"{apply.seconds:.1f}"}


def measure_new(records: int, latency_ms: float, tmp: Path) -> dict[str, str]:
    """Peak RSS of ``passerelle plan`` of ``records`` new invoices (every one a create: the plan of a first
    sync, the most a plan holds)."""
    sandbox = Sandbox(latency_ms)
    try:
        sandbox.seed()
        profile, env = _workspace(tmp, records, "memory-new")
        env["PASSERELLE_QBO_BASE_URL"] = sandbox.base
        plan = run_cli(["plan", str(profile)], env, sandbox)
    finally:
        sandbox.close()
    label = f"{records // 1000}k" if records >= 1000 else str(records)
    return {f"cli_plan_peak_mb_new_{label}": f"{plan.peak_mb:.0f}", f"cli_plan_seconds_new_{label}": f"{plan.seconds:.1f}",
            f"cli_plan_qbo_requests_new_{label}": str(plan.requests)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="new invoices of the first plan")
    parser.add_argument("--sync-records", type=int, default=1_000, help="invoices of the first sync (plan + apply)")
    parser.add_argument("--memory-records", type=int, default=100_000, help="invoices of the memory figures (0: none)")
    parser.add_argument("--memory-new-records", type=int, default=0,
                        help="new invoices of the plan memory figure cli_plan_peak_mb_new_* (0: none)")
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--build-ledger", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_ledger:
        print(f"ledger_rows={build_ledger(args.build_ledger, args.base)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure_sandbox(args.records, args.sync_records, args.latency_ms, Path(tmp)) \
            if args.records or args.sync_records else {}
        if args.memory_records:
            figures.update(measure_memory(args.memory_records, args.latency_ms, Path(tmp)))
        if args.memory_new_records:
            figures.update(measure_new(args.memory_new_records, args.latency_ms, Path(tmp)))
    for key, value in figures.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
