"""A fleet on this machine for end-to-end tests and ``bench/fleet.py``: a multi-company sandbox served over
HTTP (signing webhooks to the service), generated FreshBooks profiles spread over the companies (file
data, each with its own invoice prefix), ``passerelle run`` and ``passerelle worker`` processes, and
the checks: documents against a clean single run, duplicates, what the sandbox counted per company.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.sandbox import Sandbox, SandboxConfig, WebhookTarget, sandbox_of, serve
from connectors.sandbox.app import create_app
from connectors.sandbox.testing import TEST_TOKEN

__all__ = ["VERIFIER", "Lab", "expected_documents", "fleet_lab", "realm_documents", "write_profiles"]

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules" / "freshbooks"
VERIFIER = "fleet-verifier-token"
ADMIN_TOKEN = "fleet-admin-token"

OGUSTINE = ROOT / "rules" / "ogustine"
OGUSTINE_TOKEN_VARIABLE = "FLEET_OGUSTINE_TOKEN"
OGUSTINE_PROFILE = """passerelle: 1
kind: profile
profile: {{name: {name}}}
pack: {pack}
settings: {{base_url: "{url}", invoice_prefix: "{prefix}", credit_note_prefix: "{prefix}AV", attach_pdf: false,
            start_date: "2025-01-01"}}
secrets: {{api_token: {{env: FLEET_OGUSTINE_TOKEN}}}}
connections:
  qbo: {{connector: qbo, realm: "{realm}"}}
"""

PROFILE = """passerelle: 1
kind: profile
profile: {{name: {name}}}
pack: {pack}
settings: {{invoice_prefix: "{prefix}", sync_expenses: false, create_items: true, start_date: "2024-01-01"}}
connections:
  qbo: {{connector: qbo, realm: "{realm}"}}
  product:
    connector: file
    resources:
      invoices: {{path: {data}/invoices.json, id: invoiceid}}
      payments: {{path: {data}/payments.json, id: paymentid}}
      expenses: {{path: {pack}/data/expenses.json, id: expenseid}}
"""


def _data(folder: Path, invoices: int, tag: str, index: int) -> Path:
    """``invoices`` FreshBooks invoices cloned from the pack's demo data (paid ones with their payment), for
    clients and payment numbers of their own: profiles sharing a company never share a customer or a payment."""
    folder.mkdir(parents=True, exist_ok=True)
    template = json.loads((PACK / "data" / "invoices.json").read_text(encoding="utf-8"))
    payments_t = {p["invoiceid"]: p for p in json.loads((PACK / "data" / "payments.json").read_text(encoding="utf-8"))}
    out, pays = [], []
    for n in range(invoices):
        base = template[n % len(template)]
        number = 5000 + n
        out.append({**base, "invoiceid": number, "invoice_number": str(number), "fname": f"{base['fname']} {tag}",
                    "organization": f"{base['organization']} {tag}" if base.get("organization") else ""})
        if base["invoiceid"] in payments_t:
            pays.append({**payments_t[base["invoiceid"]], "paymentid": 100_000 * (index + 1) + n, "invoiceid": number})
    (folder / "invoices.json").write_text(json.dumps(out), encoding="utf-8")
    (folder / "payments.json").write_text(json.dumps(pays), encoding="utf-8")
    return folder


def write_profiles(folder: Path, realms: tuple[str, ...], count: int, invoices: int = 4) -> dict[str, str]:
    """``count`` profiles spread round-robin over ``realms``; returns profile key -> realm."""
    profiles = folder / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    keys = {}
    for n in range(count):
        name, realm = f"fleet-{n:03d}", realms[n % len(realms)]
        data = _data(folder / "_data" / name, invoices, f"P{n:03d}", n)
        (profiles / f"{name}.yaml").write_text(PROFILE.format(name=name, pack=PACK, prefix=f"P{n:03d}-", realm=realm,
                                                              data=data), encoding="utf-8")
        keys[f"freshbooks/{name}"] = realm
    return keys


def prefix_of(key: str) -> str:
    return f"P{int(key.rsplit('-', 1)[1]):03d}-"


def ogustine_profile(folder: Path, n: int, realm: str, url: str, prefix: str | None = None) -> Path:
    path = folder / f"ogustine-{n:02d}.yaml"
    path.write_text(OGUSTINE_PROFILE.format(name=f"ogustine-{n:02d}", pack=OGUSTINE, url=url, realm=realm,
                                            prefix=prefix or f"OG{n:02d}_"), encoding="utf-8")
    return path


def prepare_ogustine_company(sandbox: Sandbox, realm: str) -> None:
    """The FR preset has a vendor named like an Ogustine customer: rename it, as its accountant would."""
    vendor = next(v for v in sandbox.query(realm, "SELECT * FROM Vendor MAXRESULTS 1000")["Vendor"]
                  if v["DisplayName"] == "SCI Les Tilleuls")
    sandbox.write(realm, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                    "DisplayName": "SCI Les Tilleuls (bailleur)"})


def realm_documents(sandbox: Sandbox, realm: str) -> list[tuple[str, str, str, str]]:
    """What a company holds that the profiles wrote: invoices, sales receipts and credit notes by number,
    payments by the number of the invoice they pay; (entity, number, total, balance)."""
    docs = []
    numbers = {}
    for entity in ("Invoice", "SalesReceipt", "CreditMemo"):
        for row in sandbox.query(realm, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, []):
            numbers[row["Id"]] = row.get("DocNumber", "")
            docs.append((entity, row.get("DocNumber", ""), str(row.get("TotalAmt")), str(row.get("Balance", ""))))
    for row in sandbox.query(realm, "SELECT * FROM Payment MAXRESULTS 1000").get("Payment", []):
        linked = [numbers.get(str(link["TxnId"]), "?") for line in row.get("Line", [])
                  for link in line.get("LinkedTxn", [])]
        docs.append(("Payment", ",".join(sorted(linked)), str(row.get("TotalAmt")), ""))
    return sorted(docs)


def expected_documents(folder: Path, invoices: int) -> list[tuple[str, str, str, str]]:
    """The documents one clean `passerelle sync` of a profile writes on a fresh company, numbered ``REF-``."""
    sandbox_config = SandboxConfig.with_companies(1, static_tokens=(TEST_TOKEN,))
    app = create_app(sandbox_config)
    sandbox = sandbox_of(app)
    realm = sandbox.realm_ids[0]
    ref = folder / "_reference"
    write = write_profiles(ref, (realm,), 1, invoices)
    (ref / "profiles" / "fleet-000.yaml").write_text(
        (ref / "profiles" / "fleet-000.yaml").read_text(encoding="utf-8").replace('"P000-"', '"REF-"'), encoding="utf-8")
    env = {**os.environ, "PASSERELLE_STATE": str(ref / "state.db")}
    with serve(app) as url:
        env.update(PASSERELLE_QBO_BASE_URL=url, PASSERELLE_QBO_ACCESS_TOKEN=TEST_TOKEN)
        result = subprocess.run([sys.executable, "-m", "engine.cli", "sync", str(ref / "profiles" / "fleet-000.yaml")],
                                env=env, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        assert write
        return realm_documents(sandbox, realm)


def project(reference: list[tuple[str, str, str, str]], prefix: str) -> list[tuple[str, str, str, str]]:
    """The reference documents as the profile with ``prefix`` numbers them."""
    return [(e, n.replace("REF-", prefix), t, b) for e, n, t, b in reference]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    sandbox: Sandbox
    sandbox_url: str
    folder: Path
    profiles: dict[str, str]          # key -> realm
    state: str                        # PASSERELLE_STATE
    env: dict[str, str]
    service_url: str = ""
    service: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    fakes: dict[str, Any] = field(default_factory=dict)   # ogustine profile key -> its FakeProduct
    closing: threading.Event = field(default_factory=threading.Event)  # set when the lab shuts down

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @property
    def realms(self) -> tuple[str, ...]:
        return self.sandbox.realm_ids

    def _spawn(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=self.env, cwd=ROOT,
                                    stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)

    def start_service(self, *, port: int, workers: int = 0) -> None:
        self.service_url = f"http://127.0.0.1:{port}"
        self.service = self._spawn("run", "--profiles", str(self.folder / "profiles"), "--port", str(port),
                                   "--workers", str(workers), "--tick", "1", "--rescan", "2", name="service")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.service_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.service.poll() is not None:
                raise RuntimeError("the service stopped: " + self.tail("service"))
            time.sleep(0.2)
        raise RuntimeError("the service did not start: " + self.tail("service"))

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        proc = self._spawn("worker", "--profiles", str(self.folder / "profiles"), "--name", f"w{n}", name=f"worker-{n}")
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""

    def status(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.service_url}/status", timeout=30, headers=self.admin).json())

    def jobs(self, **params: str) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.service_url}/jobs", params={**params}, timeout=30, headers=self.admin
                              ).json()["jobs"])

    def settled(self) -> bool:
        """Every profile ran at least once, no job is waiting or running and no event is pending."""
        profiles = self.status()["profiles"]
        if set(profiles) != set(self.profiles):
            return False
        for entry in profiles.values():
            jobs = entry["jobs"]
            if not entry["last_run"] and not jobs.get("done"):
                return False
            if any(jobs.get(state) for state in ("queued", "running", "retried")):
                return False
        engine = sa.create_engine(_sqlalchemy_url(self.state))
        try:
            with engine.connect() as conn:
                pending = conn.execute(sa.text("SELECT count(*) FROM events WHERE processed_at IS NULL")).scalar_one()
        finally:
            engine.dispose()
        return pending == 0

    def wait_settled(self, timeout: float) -> float:
        start = time.monotonic()
        deadline = start + timeout
        quiet = 0
        while time.monotonic() < deadline:
            quiet = quiet + 1 if self.settled() else 0
            if quiet >= 3:  # three looks in a row: webhooks still in flight would have made jobs by then
                return time.monotonic() - start
            time.sleep(1.0)
        raise AssertionError("the fleet did not settle in time; service log:\n" + self.tail("service") +
                             "\n".join(self.tail(f"worker-{n}", 2000) for n in range(len(self.workers))))

    def documents(self) -> dict[str, list[tuple[str, str, str, str]]]:
        return {realm: realm_documents(self.sandbox, realm) for realm in self.realms}

    def load(self) -> dict[str, Any]:
        return dict(self.sandbox.load_report())


    def listen(self, seconds: float) -> tuple[threading.Thread, list[dict[str, Any]]]:
        """Read ``GET /status/stream`` for ``seconds`` in a thread; the progress messages land in the list."""
        received: list[dict[str, Any]] = []

        def read() -> None:
            deadline = time.monotonic() + seconds
            try:
                with httpx.stream("GET", f"{self.service_url}/status/stream", timeout=seconds + 5,
                                  headers=self.admin) as stream:
                    kind = ""
                    for line in stream.iter_lines():
                        if line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind == "progress":
                            received.append(json.loads(line[6:]))
                        if time.monotonic() > deadline or self.closing.is_set():
                            break
            except httpx.HTTPError:
                pass

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread, received

    def launch(self, key: str, kind: str = "first", record: str | None = None) -> int:
        """``POST /jobs``: what the console's "launch the first sync" (or "sync now") button sends."""
        answer = httpx.post(f"{self.service_url}/jobs", json={"profile": key, "kind": kind, "record": record},
                            headers=self.admin, timeout=30)
        assert answer.status_code == 202, answer.text
        return int(answer.json()["job"])

    def product_event(self, key: str, event: Mapping[str, Any]) -> httpx.Response:
        """A signed Ogustine webhook to the service, as Ogustine would send it."""
        from tests.fakes.specs import ogustine

        body = json.dumps(event).encode()
        signature = hmac.new(ogustine.TOKEN.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(f"{self.service_url}/webhooks/product/{key}", content=body,
                          headers={"X-Ogustine-Signature": signature, "Content-Type": "application/json"}, timeout=30)


def ogustine_reference(folder: Path, fake_records: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """What one clean `passerelle sync` of an Ogustine profile (prefix ``REF_``) writes on a fresh company,
    from a fake holding ``fake_records``."""
    import copy

    from tests.fakes.product import FakeProduct
    from tests.fakes.server import serve_app
    from tests.fakes.specs import ogustine

    app = create_app(SandboxConfig.with_companies(1, static_tokens=(TEST_TOKEN,)))
    sandbox = sandbox_of(app)
    realm = sandbox.realm_ids[0]
    prepare_ogustine_company(sandbox, realm)
    fake = FakeProduct(ogustine.spec())
    fake.records.update(copy.deepcopy(dict(fake_records)))
    ref = folder / "_reference_ogustine"
    ref.mkdir(parents=True, exist_ok=True)
    with serve(app) as url, serve_app(fake.app) as product_url:
        path = ogustine_profile(ref, 0, realm, product_url, prefix="REF_")
        env = {**os.environ, "PASSERELLE_STATE": str(ref / "state.db"), "PASSERELLE_QBO_BASE_URL": url,
               "PASSERELLE_QBO_ACCESS_TOKEN": TEST_TOKEN, OGUSTINE_TOKEN_VARIABLE: ogustine.TOKEN}
        result = subprocess.run([sys.executable, "-m", "engine.cli", "sync", str(path)], env=env, capture_output=True,
                                text=True, timeout=300, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return realm_documents(sandbox, realm)


def _sqlalchemy_url(state: str) -> str:
    if state.startswith("postgresql://"):
        return "postgresql+psycopg://" + state[len("postgresql://"):]
    return f"sqlite:///{state}"


@contextmanager
def fleet_lab(folder: Path, *, state: str, companies: int, profiles: int, invoices: int = 4, latency_ms: float = 0.0,
              ogustine: int = 0, service_port: int | None = None, extra_env: Mapping[str, str] | None = None
              ) -> Iterator[Lab]:
    """The sandbox and the profiles (``profiles`` FreshBooks ones, plus ``ogustine`` Ogustine ones, each on a
    company of its own among the last ones, with its fake product served over HTTP); start the service and
    workers with :class:`Lab`'s methods."""
    port = service_port or _free_port()
    config = SandboxConfig.with_companies(
        companies, static_tokens=(TEST_TOKEN,), latency_ms=latency_ms, webhook_token=VERIFIER,
        webhooks=(WebhookTarget(f"http://127.0.0.1:{port}/webhooks/qbo"),), webhook_retry_delays=(0.5, 1, 2, 5, 10))
    app = create_app(config)
    sandbox = sandbox_of(app)
    keys = write_profiles(folder, sandbox.realm_ids, profiles, invoices)
    with ExitStack() as stack:
        url = stack.enter_context(serve(app))
        fakes = {}
        if ogustine:
            from tests.fakes.product import FakeProduct
            from tests.fakes.server import serve_app
            from tests.fakes.specs import ogustine as ogustine_spec

            for n in range(ogustine):
                realm = sandbox.realm_ids[-1 - n]
                prepare_ogustine_company(sandbox, realm)
                fake = FakeProduct(ogustine_spec.spec())
                ogustine_profile(folder / "profiles", n, realm, stack.enter_context(serve_app(fake.app)))
                keys[f"ogustine/ogustine-{n:02d}"] = realm
                fakes[f"ogustine/ogustine-{n:02d}"] = fake
        env = {**os.environ, "PASSERELLE_STATE": state, "PASSERELLE_QBO_BASE_URL": url,
               "PASSERELLE_QBO_ACCESS_TOKEN": TEST_TOKEN, "PASSERELLE_QBO_WEBHOOK_TOKEN": VERIFIER,
               "PASSERELLE_QBO_TIMEOUT": "30", "PASSERELLE_ADMIN_TOKEN": ADMIN_TOKEN,
               OGUSTINE_TOKEN_VARIABLE: "ogustine-test-token-3e8d", **(extra_env or {})}
        lab = Lab(sandbox, url, folder, keys, state, env, fakes=fakes)
        lab.service_url = f"http://127.0.0.1:{port}"
        try:
            yield lab
        finally:
            lab.closing.set()  # listeners let go of the event stream (the service waits for open connections)
            for proc in [*lab.workers, *([lab.service] if lab.service else [])]:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in [*lab.workers, *([lab.service] if lab.service else [])]:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            sandbox.close()


def duplicates(documents: Mapping[str, list[tuple[str, str, str, str]]]) -> int:
    count = 0
    for docs in documents.values():
        numbers = Counter((e, n) for e, n, _, _ in docs if e != "Payment")
        count += sum(n - 1 for n in numbers.values() if n > 1)
    return count
