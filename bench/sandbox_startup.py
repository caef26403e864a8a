"""Sandbox start-up: from launching ``passerelle sandbox`` to its first answered API call (target: under 1 s).

Each run starts a fresh interpreter (``python -m engine.cli.main sandbox --port 0 …``, the same code path as the
console script), reads the base URL the command prints first, and polls ``GET /v3/company/<realm>/companyinfo``
until it answers 200. The figure is the median of the runs, with the worst; ``--companies`` shows how start-up
grows with the number of companies.

    python -m bench.sandbox_startup --runs 5 --companies 1 --companies 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
REALM = "9341450000000001"


def _once(companies: int) -> float:
    command = [sys.executable, "-c", "from engine.cli.main import main; main()", "sandbox", "--port", "0",
               "--static-token", TOKEN, "--companies", str(companies)]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if " on http://" not in first:
            raise RuntimeError(f"unexpected first line: {first!r}")
        base = first.split(" on ")[1].strip()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        while True:
            try:
                answer = httpx.get(f"{base}/v3/company/{REALM}/companyinfo/{REALM}", headers=headers, timeout=5)
                if answer.status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > 30:
                raise RuntimeError("the sandbox did not answer within 30 s")
            time.sleep(0.005)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def measure(runs: int, companies: tuple[int, ...]) -> dict[str, str]:
    figures: dict[str, str] = {}
    for count in companies:
        times = [_once(count) for _ in range(runs)]
        suffix = "" if count == 1 else f"_{count}_companies"
        figures[f"sandbox_startup_ms{suffix}"] = f"{statistics.median(times) * 1000:.0f}"
        figures[f"sandbox_startup_max_ms{suffix}"] = f"{max(times) * 1000:.0f}"
    figures["sandbox_startup_under_1s"] = str(all(
        float(value) < 1000 for key, value in figures.items() if key.startswith("sandbox_startup_ms"))).lower()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--companies", type=int, action="append", help="companies to start (repeatable; default 1)")
    args = parser.parse_args()
    for key, value in measure(args.runs, tuple(args.companies or (1,))).items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
