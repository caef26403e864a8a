"""Benchmark: the engine's own cost per applied document, with QBO's limits lifted.

A fleet drives many companies per process, so what apply spends per document (outbox, ledger, error
history, the run's progress) must stay far below QBO's pace and flat in the run's size. The sandbox
runs in its own process (its CPU is not the engine's) over loopback HTTP with no quota and no latency;
the client's limiter is lifted too. ``apply_plan`` carries out a plan of N invoice creates (3 lines, an
existing customer and item) through the real QBO connector into a fresh state store: SQLite, and
PostgreSQL when a server answers on 127.0.0.1:5432 (a throwaway database, as tests/pg.py makes).

Figures (``key=value``): ``apply_unlimited_docs_per_s_3k`` / ``_10k`` (SQLite), the same with ``_pg``,
``apply_unlimited_cpu_ms_per_doc_*`` (this process's CPU, the sandbox's excluded) and
``apply_store_statements_per_doc`` (statements the state store executed during the 10k SQLite apply,
counted by a SQLAlchemy ``before_cursor_execute`` listener; an ``executemany`` counts once).

    .venv/bin/python -m bench.apply_unlimited [--sizes 3000,10000] [--no-pg]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.apply import PROFILE, REALM, TOKEN, _plan  # noqa: E402

__all__ = ["main", "measure"]

UNLIMITED = 10**9


def serve_sandbox() -> None:
    """The child process: the FR sandbox without quotas or latency, its URL on stdout, until stdin closes."""
    from connectors.sandbox import RealmSpec, Sandbox, SandboxConfig, serve

    config = SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TOKEN,), latency_ms=0,
                           requests_per_minute=UNLIMITED, batches_per_minute=UNLIMITED, max_concurrent=1000)
    sandbox = Sandbox(config)
    with serve(sandbox) as base:
        print(f"sandbox={base}", flush=True)
        sys.stdin.read()
    sandbox.close()


@contextmanager
def sandbox_process() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.apply_unlimited", "--serve"], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        for line in proc.stdout:
            found = re.match(r"sandbox=(\S+)", line)
            if found:
                break
        else:
            raise RuntimeError("the sandbox did not start")
        yield found.group(1)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _refs(base: str) -> tuple[str, str, str]:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
                      timeout=60) as http:
        def query(text: str) -> dict[str, Any]:
            answer = http.post(f"/v3/company/{REALM}/query", content=text.encode(),
                               headers={"Content-Type": "application/text"})
            answer.raise_for_status()
            result: dict[str, Any] = answer.json()["QueryResponse"]
            return result

        customer = query("SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]["Id"]
        item = query("SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")["Item"][0]["Id"]
        codes = query("SELECT * FROM TaxCode")["TaxCode"]
    code = next(c["Id"] for c in codes if c.get("Active", True) and c.get("SalesTaxRateList", {}).get("TaxRateDetail"))
    return str(customer), str(item), str(code)


def measure(count: int, store_url: str) -> dict[str, float]:
    """Apply ``count`` invoice creates into the store at ``store_url``: seconds, CPU and statements."""
    from connectors.qbo.config import LimitSpec
    from connectors.qbo.limiter import forget_limiters
    from connectors.qbo_session import open_qbo
    from engine.pipeline import run_pipeline
    from engine.runtime.apply import apply_plan
    from engine.store import open_store

    forget_limiters()
    loaded = run_pipeline(PROFILE)
    limits = LimitSpec(per_minute=UNLIMITED, batches_per_minute=UNLIMITED, concurrent=10)
    with sandbox_process() as base:
        store = open_store(store_url)
        target = open_qbo(loaded.resolved, store, token=TOKEN, realm=REALM, env={"PASSERELLE_QBO_BASE_URL": base},
                          settings={"limits": limits})
        plan = _plan(loaded.resolved.key, count, _refs(base), loaded.pack.meta.name,
                     loaded.profile.name if loaded.profile else "")
        statements = [0]

        def count_statement(*_args: Any) -> None:
            statements[0] += 1

        sa.event.listen(store.engine, "before_cursor_execute", count_statement)
        cpu, start = time.process_time(), time.perf_counter()
        report = apply_plan(plan, target, store)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        sa.event.remove(store.engine, "before_cursor_execute", count_statement)
        target.client.close()
        store.dispose()
    if not report.ok or report.counts.get("create") != count:
        raise AssertionError(f"apply failed: {report.counts} {report.failures[:3]}")
    return {"seconds": elapsed, "cpu": cpu, "statements": statements[0]}


def _label(count: int) -> str:
    return f"{count // 1000}k" if count >= 1000 and count % 1000 == 0 else str(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_unlimited", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="3000,10000", help="invoice creates per run, comma-separated")
    parser.add_argument("--labels", default="", help="the figures' size labels, comma-separated (default: 3k, 10k ...)")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_sandbox()
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    labels = dict(zip(sizes, [x for x in args.labels.split(",") if x], strict=False))
    stores: list[tuple[str, Any]] = [("", None)]
    if not args.no_pg:
        from tests.pg import postgres_available

        if postgres_available():
            stores.append(("_pg", "pg"))
        else:
            print("apply_unlimited_note=PostgreSQL not reachable on 127.0.0.1:5432: no _pg figures")
    figures: dict[str, str] = {}
    for suffix, kind in stores:
        for count in sizes:
            with tempfile.TemporaryDirectory() as tmp, (_pg_database() if kind else nullcontext(None)) as pg_url:
                url = pg_url or f"sqlite:///{Path(tmp) / 'state.db'}"
                got = measure(count, url)
            label = labels.get(count) or _label(count)
            figures[f"apply_unlimited_docs_per_s_{label}{suffix}"] = f"{count / got['seconds']:.0f}"
            figures[f"apply_unlimited_cpu_ms_per_doc_{label}{suffix}"] = f"{got['cpu'] / count * 1000:.1f}"
            figures[f"apply_unlimited_seconds_{label}{suffix}"] = f"{got['seconds']:.1f}"
            if not suffix:
                figures["apply_store_statements_per_doc"] = f"{got['statements'] / count:.2f}"
            if suffix and count == sizes[-1]:
                figures["apply_store_statements_per_doc_pg"] = f"{got['statements'] / count:.2f}"
            print(f"# {label}{suffix or ' sqlite'}: {got}", file=sys.stderr, flush=True)
    if len(sizes) >= 2:
        for suffix, _ in stores:
            first, last = (figures[f"apply_unlimited_docs_per_s_{labels.get(s) or _label(s)}{suffix}"]
                           for s in (sizes[0], sizes[-1]))
            figures[f"apply_unlimited_flatness{suffix}"] = f"{float(last) / max(float(first), 1e-9):.2f}"
    for key, value in figures.items():
        print(f"{key}={value}")
    return 0


@contextmanager
def _pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database's URL (tests/pg.py's), dropped afterwards."""
    from tests.pg import throwaway_database

    with throwaway_database() as url:
        yield url


if __name__ == "__main__":
    raise SystemExit(main())
