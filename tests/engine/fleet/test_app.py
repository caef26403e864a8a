"""The service's HTTP front door, in-process: webhooks checked then routed, jobs and status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.sandbox import Sandbox, sign
from connectors.sandbox.testing import TEST_TOKEN
from engine.fleet.app import ADMIN_TOKEN_VARIABLE, MAX_BODY, create_app
from engine.fleet.embedded import EmbeddedQueue
from engine.fleet.service import Service, ServiceOptions
from engine.serve import intake
from engine.store import Store
from tests.engine.fleet.conftest import KeptOpen
from tests.fakes.server import serve_app

VERIFIER = "verifier"


@pytest.fixture
def service(tmp_path: Path, profiles: dict[str, str], store: Store, bridge: KeptOpen,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv(ADMIN_TOKEN_VARIABLE, "admin-secret")
    options = ServiceOptions(workers=2, tick_every=3600, rescan_every=3600, retry_delay=0,
                             session_options={"transport": bridge, "token": TEST_TOKEN})
    started = Service(store, [tmp_path / "deployment" / "profiles"], options,
                      env={"PASSERELLE_QBO_WEBHOOK_TOKEN": VERIFIER})
    started.start()  # what the app's lifespan does under `passerelle run`
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def client(service: Service) -> Iterator[httpx.Client]:
    with serve_app(create_app(service)) as url, httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": "Bearer admin-secret"}) as test_client:
        yield test_client


def _notification(realm: str, n: int = 1) -> bytes:
    return json.dumps([{"specversion": "1.0", "id": f"ce-{n}", "source": "intuit", "type": "qbo.invoice.updated.v1",
                        "time": "2026-12-01T08:00:00Z", "intuitentityid": "1", "intuitaccountid": realm,
                        "data": {}}]).encode()


def test_notifications_are_checked_then_reach_every_profile_of_the_company(client: httpx.Client, store: Store,
                                                                            sandbox: Sandbox) -> None:
    realm = sandbox.realm_ids[0]
    body = _notification(realm)
    assert client.post("/webhooks/qbo", content=body).status_code == 401
    assert client.post("/webhooks/qbo", content=body, headers={"intuit-signature": sign(b"other", VERIFIER)}
                       ).status_code == 401
    assert intake.count(store) == 0
    huge = b"[" + b" " * (MAX_BODY + 10) + b"]"
    assert client.post("/webhooks/qbo", content=huge, headers={"intuit-signature": sign(huge, VERIFIER)}
                       ).status_code == 413
    answer = client.post("/webhooks/qbo", content=body, headers={"intuit-signature": sign(body, VERIFIER)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1 and len(answer.json()["jobs"]) == 2  # two profiles on this company
    assert intake.count(store) == 2


def test_a_manual_sync_needs_the_admin_token_and_runs_as_a_job(client: httpx.Client, service: Service,
                                                               sandbox: Sandbox, profiles: dict[str, str]) -> None:
    request = {"profile": "freshbooks/fleet-001", "kind": "manual"}
    assert client.post("/jobs", json=request, headers={"Authorization": ""}).status_code == 401
    assert client.post("/jobs", json=request, headers={"Authorization": "Bearer wrong"}).status_code == 401
    accepted = client.post("/jobs", json=request, headers={"Authorization": "Bearer admin-secret"})
    assert accepted.status_code == 202
    job_id = accepted.json()["job"]
    assert isinstance(service.queue, EmbeddedQueue)  # SQLite store: the embedded queue
    service.queue.wait_idle()
    (job,) = [j for j in client.get("/jobs", params={"profile": "freshbooks/fleet-001"}).json()["jobs"]
              if j["id"] == job_id]
    assert job["state"] == "done", job
    realm = profiles["freshbooks/fleet-001"]
    assert len(sandbox.query(realm, "SELECT * FROM Invoice").get("Invoice", [])) == 2
    status = client.get("/status", params={"profile": "freshbooks/fleet-001"}).json()["profiles"]
    entry = status["freshbooks/fleet-001"]
    assert entry["realm"] == realm and entry["last_run"]["status"] == "done" and entry["open_errors"] == 0
    assert entry["jobs"]["done"] >= 1


def test_with_an_admin_token_set_status_and_jobs_need_it_too(client: httpx.Client) -> None:
    for path in ("/status", "/jobs", "/status/stream"):
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
    assert client.get("/status").status_code == 200


def test_bad_requests_are_answered_with_the_reason(client: httpx.Client) -> None:
    assert client.get("/jobs", params={"state": "bogus"}).status_code == 400
    admin = {"Authorization": "Bearer admin-secret"}
    assert client.post("/jobs", content=b"not json", headers=admin).status_code == 400
    assert client.post("/jobs", json={"profile": "freshbooks/nobody"}, headers=admin).status_code == 404
    assert client.post("/jobs", json={"profile": "freshbooks/fleet-000", "kind": "event"}, headers=admin
                       ).status_code == 400
    assert client.post("/webhooks/product/freshbooks/fleet-000", content=b"{}").status_code == 404
    listed = client.get("/status").json()
    assert sorted(listed["profiles"]) == ["freshbooks/fleet-000", "freshbooks/fleet-001", "freshbooks/fleet-002"]
    assert listed["queue"] == "embedded"


def test_a_profile_added_while_the_service_runs_gets_its_syncs_without_a_restart(
        tmp_path: Path, profiles: dict[str, str], store: Store, bridge: KeptOpen, sandbox: Sandbox) -> None:
    folder = tmp_path / "deployment" / "profiles"
    options = ServiceOptions(workers=2, tick_every=3600, rescan_every=3600, retry_delay=0,
                             session_options={"transport": bridge, "token": TEST_TOKEN})
    service = Service(store, [folder], options, env={})
    service.start()  # scans once; the loop's next scan and tick are an hour away, so this test drives them
    try:
        new = folder / "fleet-007.yaml"
        new.write_text((folder / "fleet-001.yaml").read_text(encoding="utf-8").replace("name: fleet-001", "name: fleet-007")
                       .replace('"P001-"', '"P007-"'), encoding="utf-8")
        service.deployment.scan()  # what the loop's rescan does (its first pass may have seen the file already)
        assert "freshbooks/fleet-007" in service.deployment.entries()
        service.tick()
        assert isinstance(service.queue, EmbeddedQueue)
        service.queue.wait_idle()
        assert [j.state for j in service.queue.jobs(profile="freshbooks/fleet-007")] == ["done"]
        (folder / "fleet-007.yaml").unlink()
        service.deployment.scan()
        assert "freshbooks/fleet-007" not in service.deployment.entries()
    finally:
        service.stop()
    numbers = {r["DocNumber"] for r in sandbox.query(profiles["freshbooks/fleet-001"], "SELECT * FROM Invoice")
               .get("Invoice", [])}
    assert {"P007-5000", "P007-5001"} <= numbers
