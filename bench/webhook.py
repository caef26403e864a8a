"""Webhook receiver throughput: signed QBO notifications acknowledged per second, each under 3 s.

The receiver (`passerelle serve`'s app) runs under uvicorn on a loopback port with the Libeo profile of
the end-to-end tests; 16 client threads post distinct signed legacy notifications as fast as they are
acknowledged. Client and server share one Python process (one core's worth of interpreter), so the
figure is a lower bound for a receiver with a core of its own. Processing happens after the answer,
in the background worker, as in production; only the acknowledgements are timed. Then one signed
CloudEvents body of 5,000 changes (1.4 MB) is posted, and its acknowledgement timed: every event is stored
before the answer, in one transaction (``webhook_body_5000_ack_s``, target under 3 s).

    python -m bench.webhook --events 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from connectors.sandbox import sign
from connectors.sandbox.operations import Change
from connectors.sandbox.webhooks import cloudevents_body, legacy_body
from tests.e2e.test_webhooks import TOKEN, _libeo, live
from tests.fakes.product import FakeProduct
from tests.fakes.specs import libeo


def measure(events: int) -> dict[str, str]:
    fake = FakeProduct(libeo.spec())
    with tempfile.TemporaryDirectory() as tmp, _libeo(Path(tmp), fake) as run, live(run, webhooks=False) as server:
        server.server.worker.stop()  # acknowledgements only: the worker would compete for the same interpreter
        bodies = [legacy_body([Change(run.realm, "Bill", str(100000 + n), "Update",
                                      f"2025-05-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+02:00")])
                  for n in range(events)]
        signatures = [sign(body, TOKEN) for body in bodies]
        client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=16))

        def post(n: int) -> float:
            sent = time.monotonic()
            response = client.post(server.url + "/webhooks/qbo", content=bodies[n],
                                   headers={"intuit-signature": signatures[n]})
            if response.status_code != 200:
                raise RuntimeError(f"notification {n} answered {response.status_code}")
            return time.monotonic() - sent

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            latencies = list(pool.map(post, range(events)))
        elapsed = time.monotonic() - start
        big = cloudevents_body([Change(run.realm, "Invoice", str(200000 + n), "Update", "2026-01-01T00:00:00+00:00")
                                for n in range(5000)])
        sent = time.monotonic()
        answer = client.post(server.url + "/webhooks/qbo", content=big, headers={"intuit-signature": sign(big, TOKEN),
                                                                                 "content-type": "application/json"})
        big_s = time.monotonic() - sent
        if answer.status_code != 200 or answer.json().get("accepted") != 5000:
            raise RuntimeError(f"the 5,000-event body answered {answer.status_code}: {answer.text[:200]}")
        client.close()
    return {"webhook_acks_per_s": f"{events / elapsed:.0f}",
            "webhook_max_ack_ms": f"{max(latencies) * 1000:.0f}",
            "webhook_under_3s": str(all(latency < 3.0 for latency in latencies)).lower(),
            "webhook_body_5000_ack_s": f"{big_s:.2f}", "webhook_body_5000_under_3s": str(big_s < 3.0).lower()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    for key, value in measure(args.events).items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
