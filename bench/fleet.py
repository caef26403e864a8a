"""The fleet: documents per minute with 1, 2 and 4 worker processes on PostgreSQL, what the sandbox counted
per company, duplicates and losses after killing workers mid-run, and jobs per webhook burst.

    .venv/bin/python -m bench.fleet            # 40 profiles, 8 companies, 200 ms per QBO request
    .venv/bin/python -m bench.fleet --quick    # the same figures on smaller data (< 20 min on 2 cores)

Each run: a fresh PostgreSQL database, the multi-company sandbox served over HTTP with a latency per
request (so the work is I/O-bound, as it is against QBO), generated FreshBooks profiles spread over the
companies, ``passerelle run`` and W ``passerelle worker`` processes. Throughput counts the documents the
companies hold at the end (invoices, payments, customers, items) over the span from the first job's start
to the last job's end (procrastinate's own event times), so process start-up and the scheduler's first
tick are not counted. Prints ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from connectors.sandbox import sign  # noqa: E402
from tests.e2e.fleet_lab import VERIFIER, Lab, duplicates, expected_documents, fleet_lab, prefix_of, project  # noqa: E402
from tests.pg import postgres_available, throwaway_database  # noqa: E402

COMPANIES, PROFILES = 8, 40


def _documents(lab: Lab) -> int:
    total = 0
    for realm in lab.realms:
        for entity in ("Invoice", "Payment", "Customer", "Item"):
            total += int(lab.sandbox.query(realm, f"SELECT COUNT(*) FROM {entity}").get("totalCount", 0))
    return total


def _span(url: str) -> float:
    """Seconds from the first scheduled job's start to the last job's end, from procrastinate's events."""
    engine = sa.create_engine("postgresql+psycopg://" + url[len("postgresql://"):])
    try:
        with engine.connect() as conn:
            first, last = conn.execute(sa.text(
                "SELECT min(at) FILTER (WHERE type = 'started'), max(at) FILTER (WHERE type IN ('succeeded', 'failed')) "
                "FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
                "WHERE j.task_name = 'passerelle.job'")).one()
    finally:
        engine.dispose()
    return float((last - first).total_seconds())


def _run(workers: int, invoices: int, latency: float, folder: Path, *, kill: bool = False,
         reference: list[Any] | None = None) -> dict[str, Any]:
    with throwaway_database() as url, fleet_lab(folder, state=url, companies=COMPANIES, profiles=PROFILES,
                                                invoices=invoices, latency_ms=latency) as lab:
        before = _documents(lab)
        lab.start_service(port=int(lab.service_url.rsplit(":", 1)[1]), workers=0)
        for n in range(workers):
            lab.start_worker(n)
        if kill:
            for n in range(2):  # two SIGKILLs mid-run, each worker replaced
                time.sleep(4)
                lab.kill(lab.workers[n])
                lab.start_worker(workers + n)
        lab.wait_settled(1800)
        span = _span(url)
        docs = _documents(lab) - before
        out: dict[str, Any] = {"docs": docs, "span": span, "load": lab.load()}
        if reference is not None:
            documents = lab.documents()
            expected = {realm: sorted(x for key, r in lab.profiles.items() if r == realm
                                      for x in project(reference, prefix_of(key))) for realm in lab.realms}
            out["duplicates"] = duplicates(documents)
            out["lost"] = sum(len(set(expected[r]) - set(documents[r])) for r in lab.realms)
            out["burst_jobs"] = _burst(lab)
        return out


def _burst(lab: Lab, count: int = 500) -> int:
    """500 signed notifications for one company, as fast as the service takes them: distinct jobs made."""
    realm = lab.realms[0]
    jobs: set[int] = set()
    with httpx.Client(base_url=lab.service_url, timeout=30) as client:
        for n in range(count):
            body = json.dumps([{"specversion": "1.0", "id": f"burst-{n}", "source": "intuit",
                                "type": "qbo.customer.updated.v1", "time": "2026-12-01T08:00:00Z",
                                "intuitentityid": str(1 + n % 5), "intuitaccountid": realm, "data": {}}]).encode()
            answer = client.post("/webhooks/qbo", content=body, headers={"intuit-signature": sign(body, VERIFIER)})
            jobs.update(answer.json().get("jobs", []))
    return len(jobs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if not postgres_available():
        print("fleet_skipped=PostgreSQL is not reachable on 127.0.0.1:5432")
        return
    invoices, latency = (4, 150.0) if args.quick else (8, 200.0)
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        reference = expected_documents(Path(tmp) / "ref", invoices)
        for workers in (1, 2, 4):
            results[workers] = _run(workers, invoices, latency, Path(tmp) / f"w{workers}")
            rate = results[workers]["docs"] / results[workers]["span"] * 60
            print(f"fleet_docs_per_min_{workers}w={rate:.0f}", flush=True)
        killed = _run(3, invoices, latency, Path(tmp) / "kill", kill=True, reference=reference)
    rates = {w: r["docs"] / r["span"] * 60 for w, r in results.items()}
    loads = [figures for run in [*results.values(), killed] for figures in run["load"].values()]
    print(f"fleet_profiles={PROFILES}")
    print(f"fleet_companies={COMPANIES}")
    print(f"fleet_latency_ms={latency:.0f}")
    print(f"fleet_scale_4w={rates[4] / rates[1]:.2f}")
    print(f"fleet_max_in_flight_per_company={max(f['peak_in_flight'] for f in loads)}")
    print(f"fleet_max_requests_per_min_per_company={max(f['peak_requests_per_min'] for f in loads)}")
    print(f"fleet_throttled={sum(f['throttled'] for f in loads)}")
    print(f"fleet_duplicates={killed['duplicates']}")
    print(f"fleet_lost={killed['lost']}")
    print(f"fleet_jobs_per_webhook_burst={killed['burst_jobs']}")


if __name__ == "__main__":
    main()
