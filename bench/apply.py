"""Benchmark: invoice creates per minute on the sandbox with QBO's limits and a realistic latency.

The sandbox is served over loopback HTTP (uvicorn) with ``latency_ms`` added to every request and
QBO's throttles on (500 requests, 40 batch calls per minute, 10 at once). Three figures:

- Passerelle: ``apply_plan`` of a plan of N invoice creates (3 lines each, existing customer, item
  and tax code), through the real QBO connector (batches of 30, the client's own rate limiter) and
  the outbox in a SQLite state store;
- a plain loop with python-quickbooks, one ``Invoice.save`` per document (what a developer writes by
  hand), over the same HTTP server;
- the ceiling the limits allow for batchable creates: 40 batch calls x 30 documents = 1200 a minute.

Under a per-window quota the honest rate is "documents done within k whole windows / k windows":
the first window's quota is available at once, so timing N documents from start to end would
overstate a rate-limited run. Passerelle is given k windows' quota plus one batch (so it is never
short of work) and the documents completed before k x window are counted. ``--window`` shortens the
window and scales the quotas with it (15 s: 125 requests, 10 batch calls), on the sandbox and on the
client alike, so the allowed rate stays QBO's while ``--quick`` runs take seconds instead of minutes.
The plain loop is far under the limits (one request at a time), so its rate is documents / time.

    .venv/bin/python -m bench.apply [--window 60] [--windows 3] [--latency-ms 200] [--plain-docs 150]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import connectors.sandbox.limits as sandbox_limits
from connectors.qbo.config import LimitSpec
from connectors.qbo.limiter import forget_limiters
from connectors.qbo_session import open_qbo
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, Sandbox, SandboxConfig, serve
from engine.pipeline import run_pipeline
from engine.runtime.apply import apply_plan
from engine.runtime.canonical import payload_hash, request_id
from engine.runtime.plan import Change, Plan
from engine.store import open_store

__all__ = ["CEILING_PER_MIN", "main", "measure_passerelle", "measure_plain_loop", "served_sandbox"]

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "rules" / "freshbooks" / "customers" / "demo.yaml"
REALM = DEFAULT_REALM_IDS["fr"]
TOKEN = "bench-token"
BATCH = 30
CEILING_PER_MIN = 40 * BATCH  # batch calls a minute x items a batch


@contextmanager
def served_sandbox(latency_ms: float, window: float) -> Iterator[tuple[Sandbox, str]]:
    """A sandbox over loopback HTTP with QBO's quotas scaled to ``window`` seconds."""
    scale = window / 60
    saved = sandbox_limits.WINDOW
    sandbox_limits.WINDOW = dt.timedelta(seconds=window)
    config = SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TOKEN,), latency_ms=latency_ms,
                           requests_per_minute=round(500 * scale), batches_per_minute=round(40 * scale))
    sandbox = Sandbox(config)
    try:
        with serve(sandbox) as base:
            yield sandbox, base
    finally:
        sandbox_limits.WINDOW = saved
        sandbox.close()


def _refs(sandbox: Sandbox) -> tuple[str, str, str]:
    """An existing customer, a service item and a tax code of the FR preset."""
    customer = sandbox.query(REALM, "SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]["Id"]
    item = sandbox.query(REALM, "SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")["Item"][0]["Id"]
    codes = sandbox.query(REALM, "SELECT * FROM TaxCode")["TaxCode"]
    code = next(c["Id"] for c in codes if c.get("Active", True) and c.get("SalesTaxRateList", {}).get("TaxRateDetail"))
    return str(customer), str(item), str(code)


def _payload(n: int, refs: tuple[str, str, str]) -> dict[str, Any]:
    customer, item, code = refs
    lines = [{"DetailType": "SalesItemLineDetail", "Amount": str(Decimal(10 * (i + 1))), "Description": f"Line {i}",
              "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": "1", "UnitPrice": str(10 * (i + 1)),
                                      "TaxCodeRef": {"value": code}}} for i in range(3)]
    return {"DocNumber": f"B{n:06d}", "TxnDate": "2025-03-03", "CustomerRef": {"value": customer},
            "GlobalTaxCalculation": "TaxExcluded", "Line": lines}


def _plan(key: str, count: int, refs: tuple[str, str, str], pack: str, profile: str) -> Plan:
    changes = []
    for n in range(count):
        payload = _payload(n, refs)
        digest = payload_hash({"payload": payload, "entity": "Invoice"})
        changes.append(Change("create", "invoices", "Invoice", str(n), label=payload["DocNumber"], payload=payload,
                              payload_hash=digest, request_id=request_id(key, "invoices", str(n), "create", digest),
                              connection="qbo", owned_fields=tuple(payload)))
    return Plan(profile=profile, pack=pack, pack_version="1", created_at="", fingerprint="", changes=tuple(changes),
                unchanged={}, first_sync=True)


def measure_passerelle(latency_ms: float, window: float, windows: int) -> dict[str, str]:
    forget_limiters()
    loaded = run_pipeline(PROFILE)
    scale = window / 60
    limits = LimitSpec(per_minute=round(500 * scale), batches_per_minute=round(40 * scale), concurrent=10,
                       window=window)
    quota = round(40 * scale) * BATCH
    count = windows * quota + BATCH
    with served_sandbox(latency_ms, window) as (sandbox, base), tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'state.db'}")
        target = open_qbo(loaded.resolved, store, token=TOKEN, realm=REALM,
                          env={"PASSERELLE_QBO_BASE_URL": base}, settings={"limits": limits})
        plan = _plan(loaded.resolved.key, count, _refs(sandbox), loaded.pack.meta.name,
                     loaded.profile.name if loaded.profile else "")
        done: list[float] = []
        lock = threading.Lock()
        start = time.monotonic()

        def progress(n: int, total: int, label: str) -> None:
            with lock:
                done.append(time.monotonic() - start)

        report = apply_plan(plan, target, store, progress=progress)
        elapsed = time.monotonic() - start
        peak = target.client.limiter.peak_in_flight
        waited = target.client.limiter.waited
        target.client.close()
    if not report.ok or report.counts.get("create") != count:
        raise AssertionError(f"apply failed: {report.counts} {report.failures[:3]}")
    horizon = windows * window
    within = sum(1 for t in done if t < horizon)
    rate = within / horizon * 60
    return {"apply_docs": str(count), "apply_seconds": f"{elapsed:.1f}", "apply_window_s": f"{window:g}",
            "apply_windows": str(windows), "apply_latency_ms": f"{latency_ms:g}",
            "apply_docs_within_windows": str(within), "apply_peak_in_flight": str(peak),
            "apply_limiter_wait_s": f"{waited:.1f}",
            "apply_docs_per_min": f"{rate:.0f}", "apply_ceiling_docs_per_min": str(CEILING_PER_MIN),
            "apply_ceiling_ratio": f"{rate / CEILING_PER_MIN:.2f}",
            "apply_first_window_s": f"{_wave_time(done, quota):.1f}"}


def _wave_time(done: list[float], quota: int) -> float:
    """How long the first window's quota took (the engine's own speed, before any wait for the window)."""
    return sorted(done)[min(quota, len(done)) - 1] if done else 0.0


def measure_plain_loop(latency_ms: float, window: float, docs: int) -> dict[str, str]:
    """python-quickbooks, unchanged, one ``Invoice.save`` per document (its OAuth goes through the sandbox)."""
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks
    from quickbooks.objects.base import Ref
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice

    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with served_sandbox(latency_ms, window) as (sandbox, base):
        customer, item, code = _refs(sandbox)
        auth = AuthClient(sandbox.config.client_id, sandbox.config.client_secret, "http://localhost/callback",
                          f"{base}/.well-known/openid_configuration")
        qb = QuickBooks(auth_client=auth, refresh_token=sandbox.issue_token(REALM).refresh_token, company_id=REALM,
                        minorversion=75)
        qb.api_url_v3 = f"{base}/v3"

        def ref(value: str) -> Any:
            out = Ref()
            out.value = value
            return out

        start = time.monotonic()
        for n in range(docs):
            invoice = Invoice()
            invoice.DocNumber = f"P{n:06d}"
            invoice.TxnDate = "2025-03-03"
            invoice.CustomerRef = ref(customer)
            invoice.GlobalTaxCalculation = "TaxExcluded"
            for i in range(3):
                line = SalesItemLine()
                line.Amount = Decimal(10 * (i + 1))
                line.Description = f"Line {i}"
                line.SalesItemLineDetail = SalesItemLineDetail()
                line.SalesItemLineDetail.ItemRef = ref(item)
                line.SalesItemLineDetail.Qty = 1
                line.SalesItemLineDetail.UnitPrice = Decimal(10 * (i + 1))
                line.SalesItemLineDetail.TaxCodeRef = ref(code)
                invoice.Line.append(line)
            invoice.save(qb=qb)
        elapsed = time.monotonic() - start
    return {"plain_docs": str(docs), "plain_seconds": f"{elapsed:.1f}",
            "plain_docs_per_min": f"{docs / elapsed * 60:.0f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds of one quota window (QBO: 60)")
    parser.add_argument("--windows", type=int, default=3, help="windows measured for Passerelle")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="added to every request (150-300 is QBO's)")
    parser.add_argument("--plain-docs", type=int, default=150, help="documents the python-quickbooks loop saves")
    args = parser.parse_args(argv)
    figures = measure_passerelle(args.latency_ms, args.window, args.windows)
    figures.update(measure_plain_loop(args.latency_ms, args.window, args.plain_docs))
    figures["apply_vs_plain_loop"] = f"{float(figures['apply_docs_per_min']) / float(figures['plain_docs_per_min']):.2f}"
    for key, value in figures.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
