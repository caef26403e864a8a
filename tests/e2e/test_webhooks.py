"""`passerelle serve` end to end: the QBO sandbox sends real signed webhooks over HTTP to the serve app on a
loopback port; the worker turns them into one-record syncs against the sandbox and the product fakes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.sandbox import WebhookTarget, sign
from engine.serve import intake
from engine.serve.app import Server, create_app
from engine.serve.profiles import served_profile
from engine.serve.worker import WorkerOptions
from tests.fakes.product import FakeProduct
from tests.fakes.server import serve_app
from tests.fakes.specs import libeo, ogustine, orderry
from tests.packs.harness import PackRun, pack_run

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "verifier-token-for-tests"
ORDERRY_ENV = {"REPARPHONE_ORDERRY_USER": orderry.USER, "REPARPHONE_ORDERRY_PASSWORD": orderry.PASSWORD,
               "PASSERELLE_QBO_WEBHOOK_TOKEN": TOKEN}
LIBEO_ENV = {"ROUX_LIBEO_API_KEY": libeo.API_KEY, "PASSERELLE_QBO_WEBHOOK_TOKEN": TOKEN}
FAST_RETRIES = {"webhook_token": TOKEN, "webhook_retry_delays": (0.2, 0.5, 1.0)}


def settle(sandbox: Any, worker: Any, timeout: float = 20.0) -> None:
    """Until the sandbox delivered every notification and the worker processed it (twice over: work makes more
    webhooks). A condition wait: ``timeout`` is only reached by a hang, never by a slow machine's normal pace."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        sandbox.webhooks.drain(max(0.1, deadline - time.monotonic()))
        worker.drain(max(0.1, deadline - time.monotonic()))
        quiet = quiet + 1 if not sandbox.webhooks._jobs and worker._queue.unfinished_tasks == 0 else 0
        if quiet == 2:
            return
        time.sleep(0.05)
    raise AssertionError("webhooks and worker did not settle (a hang)")


@dataclass
class Live:
    run: PackRun
    server: Server
    url: str

    def settle(self, timeout: float = 20.0) -> None:
        settle(self.run.sandbox, self.server.worker, timeout)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=dict(headers), timeout=5)


@contextmanager
def live(run: PackRun, *, fmt: str = "cloudevents", webhooks: bool = True, cdc: bool = False) -> Iterator[Live]:
    """Serve ``run``'s session; the sandbox's webhooks point at the app (unless ``webhooks`` is False)."""
    app = create_app(run.store, [served_profile(run.session)], WorkerOptions(cdc_at_start=cdc, cdc_every=None))
    server: Server = app.state.server
    with serve_app(app) as url:
        server.worker.start()
        try:
            if webhooks:
                run.sandbox.add_webhook(WebhookTarget(url + "/webhooks/qbo", fmt))  # type: ignore[arg-type]
            yield Live(run, server, url)
        finally:
            server.worker.stop()


def _ok(run: PackRun) -> None:
    _, report = run.sync()
    assert report.ok, report.failures


# -- Orderry O6 ----------------------------------------------------------------------------------------------------

def _orderry(tmp_path: Path, fake: FakeProduct) -> Any:
    return pack_run(ROOT / "rules/orderry/customers/repar-phone.yaml", products={"orderry": fake}, env=ORDERRY_ENV,
                    store_path=tmp_path / "state.db", config=FAST_RETRIES)


def _three_invoices() -> FakeProduct:
    lines = [x["lines"][0] for x in orderry.INVOICES[:3]]
    return FakeProduct(orderry.spec(invoices=(orderry.invoice(1, "issued", "Garage Petit", "paris", [lines[0]]),
                                              orderry.invoice(2, "sent", "Taxi Blanc", "lyon", [lines[1]]),
                                              orderry.invoice(3, "issued", "Velo Plus", "lyon", [lines[2]]))))


def _status_writes(fake: FakeProduct) -> dict[str, Any]:
    return {w.path: w.body["status"] for w in fake.writes if w.path.endswith("/status")}


@pytest.mark.parametrize("fmt", ["cloudevents", "legacy"])
def test_O6_qbo_webhooks_move_the_orderry_invoice_statuses(tmp_path: Path, fmt: str) -> None:
    fake = _three_invoices()
    with _orderry(tmp_path, fake) as run:
        _ok(run)
        qbo = {row["DocNumber"]: row for row in run.query("Invoice")}
        with live(run, fmt=fmt) as server:
            edited = run.sandbox.read(run.realm, "Invoice", qbo["INV-501"]["Id"])
            run.sandbox.write(run.realm, "Invoice", {**edited, "DueDate": "2025-06-30"})          # Invoice updated
            amount = Decimal(str(qbo["INV-502"]["TotalAmt"]))
            run.sandbox.write(run.realm, "Payment", {                                               # Payment created
                "CustomerRef": qbo["INV-502"]["CustomerRef"], "TotalAmt": amount, "TxnDate": "2025-04-20",
                "PaymentRefNum": "VIR-1",
                "PaymentMethodRef": {"value": "48"},
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": qbo["INV-502"]["Id"], "TxnType": "Invoice"}]}]})
            voided = run.sandbox.read(run.realm, "Invoice", qbo["INV-503"]["Id"])
            run.sandbox.write(run.realm, "Invoice", {"Id": voided["Id"], "SyncToken": voided["SyncToken"]}, "void")
            server.settle()
            assert _status_writes(fake) == {"/api/v2/invoices/501/status": "modified",
                                            "/api/v2/invoices/502/status": "paid",
                                            "/api/v2/invoices/503/status": "void"}
            writes = len(fake.writes)
            for delivery in list(run.sandbox.webhooks.deliveries):  # every notification delivered again
                response = server.post("/webhooks/qbo", delivery.body, run.sandbox.webhooks.headers(delivery.body))
                assert response.status_code == 200 and response.json()["accepted"] == 0
            server.settle()
            assert len(fake.writes) == writes  # redelivery: no duplicate effect


# -- Libeo L3: out of order, forged, CDC --------------------------------------------------------------------------

def _libeo(tmp_path: Path, fake: FakeProduct) -> Any:
    return pack_run(ROOT / "rules/libeo/customers/cabinet-roux.yaml", products={"libeo": fake}, env=LIBEO_ENV,
                    store_path=tmp_path / "state.db", config=FAST_RETRIES)


def _bill(run: PackRun, amount: str, number: str = "PD-1") -> dict[str, Any]:
    return run.sandbox.write(run.realm, "Bill", {
        "VendorRef": {"value": "56", "name": "Papeterie Durand"}, "DocNumber": number, "TxnDate": "2025-03-01",
        "DueDate": "2025-03-31", "GlobalTaxCalculation": "TaxExcluded",
        "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal(amount),
                  "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "10"}, "TaxCodeRef": {"value": "31"}}}]})


def _set_amount(run: PackRun, bill_id: str, amount: str) -> None:
    row = run.sandbox.read(run.realm, "Bill", bill_id)
    run.sandbox.write(run.realm, "Bill", {**row, "Line": [{**row["Line"][0], "Amount": Decimal(amount)}]})


def _payable(fake: FakeProduct, bill_id: str) -> dict[str, Any]:
    (found,) = [p for p in fake.records["payables"] if p.get("externalId") == bill_id]
    return found


def _ready_libeo(run: PackRun) -> dict[str, Any]:
    from engine.runtime.checks import fix_check
    assert fix_check(run.session.loaded.compiled, run.session.target, "libeo_bank_account") is not None
    bill = _bill(run, "100")
    _ok(run)
    return bill


def test_L3_a_bill_edited_in_qbo_reaches_libeo_by_webhook(tmp_path: Path) -> None:
    fake = FakeProduct(libeo.spec())
    with _libeo(tmp_path, fake) as run:
        bill = _ready_libeo(run)
        with live(run, fmt="legacy") as server:
            _set_amount(run, bill["Id"], "150")
            server.settle()
            assert Decimal(str(_payable(fake, bill["Id"])["amountTtc"])) == Decimal("180")  # 150 + 20 % VAT
            new = _bill(run, "10", "PD-2")  # a new bill too
            server.settle()
            assert Decimal(str(_payable(fake, new["Id"])["amountTtc"])) == Decimal("12")


def test_L3_out_of_order_notifications_end_in_the_latest_state(tmp_path: Path) -> None:
    fake = FakeProduct(libeo.spec())
    with _libeo(tmp_path, fake) as run:
        bill = _ready_libeo(run)
        captured: list[tuple[bytes, dict[str, str]]] = []
        dispatcher = run.sandbox.webhooks

        def capture(url: str, body: bytes, headers: Mapping[str, str]) -> int:
            captured.append((body, dict(headers)))
            return 200

        dispatcher.sender = capture
        with live(run) as server:
            _set_amount(run, bill["Id"], "150")
            _set_amount(run, bill["Id"], "200")
            assert dispatcher.drain() and len(captured) == 2
            for body, headers in reversed(captured):  # the newest first, then the stale one
                assert server.post("/webhooks/qbo", body, headers).status_code == 200
                server.settle()
            assert Decimal(str(_payable(fake, bill["Id"])["amountTtc"])) == Decimal("240")


def test_forged_and_unsigned_notifications_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    fake = FakeProduct(libeo.spec())
    with _libeo(tmp_path, fake) as run, live(run, webhooks=False) as server:
        body = json.dumps([{"specversion": "1.0", "id": "x1", "type": "qbo.bill.updated.v1",
                            "intuitentityid": "1", "intuitaccountid": run.realm, "data": {}}]).encode()
        assert server.post("/webhooks/qbo", body, {}).status_code == 401
        assert server.post("/webhooks/qbo", body, {"intuit-signature": sign(body, "wrong-token")}).status_code == 401
        assert server.post("/webhooks/qbo", body + b" ", {"intuit-signature": sign(body, TOKEN)}).status_code == 401
        assert server.post("/webhooks/product/libeo/cabinet-roux", b"{}", {}).status_code == 404
        assert intake.count(run.store) == 0
        assert server.post("/webhooks/qbo", body, {"intuit-signature": sign(body, TOKEN)}).status_code == 200
        assert intake.count(run.store) == 1


def test_L3_a_missed_webhook_is_recovered_by_change_data_capture(tmp_path: Path) -> None:
    fake = FakeProduct(libeo.spec())
    with _libeo(tmp_path, fake) as run:
        bill = _ready_libeo(run)
        with live(run, webhooks=False, cdc=True) as server:  # first start: the CDC cursor starts now
            server.settle()
        _set_amount(run, bill["Id"], "300")  # while the server is down: the notification is lost
        with live(run, webhooks=False, cdc=True) as server:
            deadline = time.monotonic() + 10
            while Decimal(str(_payable(fake, bill["Id"])["amountTtc"])) != Decimal("360"):
                assert time.monotonic() < deadline, "CDC did not catch up"
                time.sleep(0.05)
            status = httpx.get(server.url + "/status").json()
            cdc = status["profiles"]["libeo/cabinet-roux"]["cdc"]
            assert cdc["changes"] >= 1 and cdc["gap"] is None


# -- Ogustine G8 (product events) and G5 (live progress) ----------------------------------------------------------

OGUSTINE_PROFILE = """passerelle: 1
kind: profile
profile: {name: events-test}
pack: %s
secrets: {api_token: {env: LYON_OGUSTINE_TOKEN}}
settings: {start_date: "2025-01-01", attach_pdf: false}
connections:
  product:
    connector: http
    base_url: "{{ settings.base_url }}"
    auth: {type: bearer, token: {secret: api_token}}
    events: {secret: {secret: api_token}, signature_header: X-Ogustine-Signature}
    resources:
      invoices: {path: /api/invoices, records: items, cursor: {param: updated_since, field: updated_at},
                 paginate: {style: page, param: page, size_param: per_page, size: 100}}
      credit_notes: {path: /api/credit-notes, records: items, cursor: {param: updated_since, field: updated_at},
                     paginate: {style: page, param: page, size_param: per_page, size: 100}}
      customers: {path: /api/customers}
      services: {path: /api/services}
"""


def _ogustine(tmp_path: Path, fake: FakeProduct) -> Any:
    path = tmp_path / "events-test.yaml"
    path.write_text(OGUSTINE_PROFILE % (ROOT / "rules/ogustine"), encoding="utf-8")
    return pack_run(path, products={"product": fake}, env={"LYON_OGUSTINE_TOKEN": ogustine.TOKEN},
                    store_path=tmp_path / "state.db", config=FAST_RETRIES)


def _product_event(server: Live, event: Mapping[str, Any], secret: str = ogustine.TOKEN) -> httpx.Response:
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return server.post("/webhooks/product/ogustine/events-test", body, {"X-Ogustine-Signature": signature})


def _ogustine_invoices(run: PackRun) -> dict[str, Any]:
    return {row["DocNumber"]: row for row in run.query("Invoice")}


def _rename_vendor(run: PackRun) -> None:
    vendor = next(v for v in run.query("Vendor") if v["DisplayName"] == "SCI Les Tilleuls")
    run.sandbox.write(run.realm, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                            "DisplayName": "SCI Les Tilleuls (bailleur)"})


def test_G8_a_product_invoice_validated_event_sends_it_at_once(tmp_path: Path) -> None:
    fake = FakeProduct(ogustine.spec())
    with _ogustine(tmp_path, fake) as run:
        _rename_vendor(run)
        _ok(run)
        assert "OGUSTINE_2025-05-03" not in _ogustine_invoices(run)
        with live(run) as server:
            draft = next(r for r in fake.records["invoices"] if r["id"] == "F0003")
            draft.update(status="validated", updated_at="2025-05-20T08:00:00Z")
            event = {"id": "evt-1", "type": "invoice.validated", "data": {"id": "F0003"}}
            assert _product_event(server, event, secret="forged").status_code == 401
            assert _product_event(server, event).json() == {"accepted": 1, "duplicates": 0}
            server.settle()
            assert str(_ogustine_invoices(run)["OGUSTINE_2025-05-03"]["TotalAmt"]) == "88.00"
            assert _product_event(server, event).json() == {"accepted": 0, "duplicates": 1}  # redelivered
            server.settle()
            assert list(_ogustine_invoices(run)).count("OGUSTINE_2025-05-03") == 1
            assert len(run.query("Invoice", "DocNumber = 'OGUSTINE_2025-05-03'")) == 1


def test_G5_live_progress_is_streamed_as_server_sent_events(tmp_path: Path) -> None:
    fake = FakeProduct(ogustine.spec())
    with _ogustine(tmp_path, fake) as run:
        _rename_vendor(run)
        _ok(run)
        with live(run) as server:
            lines: list[str] = []
            connected = threading.Event()

            def listen() -> None:
                with httpx.stream("GET", server.url + "/status/stream", timeout=10) as response:
                    for line in response.iter_lines():
                        connected.set()
                        lines.append(line)
                        if line.startswith("data:") and '"processed": true' in line:
                            return

            thread = threading.Thread(target=listen, daemon=True)
            thread.start()
            assert connected.wait(5)
            while server.server.hub.listeners == 0:
                time.sleep(0.01)
            next(r for r in fake.records["invoices"] if r["id"] == "F0003").update(status="validated")
            _product_event(server, {"id": "evt-2", "type": "invoice.validated", "data": {"id": "F0003"}})
            thread.join(10)
            progress = [json.loads(line[5:]) for line in lines if line.startswith("data:") and '"done"' in line]
            assert progress and progress[-1]["done"] == progress[-1]["total"]
            assert progress[-1]["profile"] == "ogustine/events-test" and "OGUSTINE_2025-05-03" in progress[-1]["label"]
            status = httpx.get(server.url + "/status").json()["profiles"]["ogustine/events-test"]
            assert status["last_run"]["status"] == "done" and status["last_run"]["progress"]["done"] >= 1
            assert status["open_errors"] == []


def test_a_burst_of_300_signed_notifications_at_100_per_second_is_acknowledged_and_stored(tmp_path: Path) -> None:
    """Every notification of a burst is acknowledged and stored once; how fast is a figure of bench/webhook.py
    (webhook_max_ack_ms, webhook_under_3s), never a timed assertion here."""
    from concurrent.futures import ThreadPoolExecutor

    from connectors.sandbox.operations import Change
    from connectors.sandbox.webhooks import legacy_body

    fake = FakeProduct(libeo.spec())
    with _libeo(tmp_path, fake) as run, live(run, webhooks=False) as server:
        bodies = [legacy_body([Change(run.realm, "Bill", str(9000 + n), "Update", f"2025-05-01T10:{n // 60:02d}:"
                                      f"{n % 60:02d}+02:00")]) for n in range(300)]
        client = httpx.Client(timeout=5)
        start = time.monotonic()

        def send(n: int) -> float:
            time.sleep(max(0.0, start + n / 100 - time.monotonic()))  # 100 per second
            sent = time.monotonic()
            response = client.post(server.url + "/webhooks/qbo", content=bodies[n],
                                   headers={"intuit-signature": sign(bodies[n], TOKEN)})
            assert response.status_code == 200
            return time.monotonic() - sent

        with ThreadPoolExecutor(max_workers=32) as pool:
            latencies = list(pool.map(send, range(300)))
        client.close()
        print(f"\nburst: 300 notifications, max ack latency {max(latencies) * 1000:.0f} ms, "
              f"mean {sum(latencies) / len(latencies) * 1000:.0f} ms")
        assert len(latencies) == 300 and intake.count(run.store, "qbo") == 300
