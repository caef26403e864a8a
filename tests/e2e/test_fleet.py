"""The service end to end: every profile of a deployment converges to what single clean runs write, with
webhooks and product events arriving during the run and processes killed with SIGKILL, and QBO's limits
kept per company (as the sandbox counted them).

- on PostgreSQL: ``passerelle run`` + 3 ``passerelle worker`` processes, 16 profiles on 4 companies,
  a worker killed twice (and another started each time); bench/fleet.py runs hundreds of profiles;
- embedded: one ``passerelle run`` process on SQLite, 10 profiles, killed once and started again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fleet_lab import (
    Lab,
    duplicates,
    expected_documents,
    fleet_lab,
    ogustine_reference,
    prefix_of,
    project,
)
from tests.pg import throwaway_database

pytestmark = pytest.mark.e2e

INVOICES = 6  # per FreshBooks profile: 6 invoices and the payments of the paid ones


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _first_run_done(lab: Lab, key: str) -> bool:
    entry = lab.status()["profiles"].get(key) or {}
    return bool(entry.get("last_run")) and entry["last_run"]["status"] == "done"


def _validate_draft(lab: Lab, key: str) -> None:
    """G8: an invoice validated in Ogustine is sent at once, through the webhook the pack declares."""
    fake = lab.fakes[key]
    draft = next(r for r in fake.records["invoices"] if r["id"] == "F0003")
    draft.update(status="validated", updated_at="2025-05-20T08:00:00Z")
    answer = lab.product_event(key, {"id": f"evt-{key}", "type": "invoice.validated", "data": {"id": "F0003"}})
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def _expected(lab: Lab, folder: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    freshbooks = expected_documents(folder, INVOICES)
    expected: dict[str, list[tuple[str, str, str, str]]] = {realm: [] for realm in lab.realms}
    for key, realm in lab.profiles.items():
        if key.startswith("freshbooks/"):
            expected[realm] += project(freshbooks, prefix_of(key))
        else:
            reference = ogustine_reference(folder / key.replace("/", "_"), lab.fakes[key].records)
            n = int(key.rsplit("-", 1)[1])
            expected[realm] += [(e, num.replace("REF_", f"OG{n:02d}_"), t, b) for e, num, t, b in reference]
    return {realm: sorted(docs) for realm, docs in expected.items()}


def _check(lab: Lab, folder: Path) -> Mapping[str, Any]:
    documents = lab.documents()
    assert duplicates(documents) == 0
    expected = _expected(lab, folder)
    for realm in lab.realms:
        missing = sorted(set(expected[realm]) - set(documents[realm]))
        extra = sorted(set(documents[realm]) - set(expected[realm]))
        assert documents[realm] == expected[realm], f"company {realm}: missing {missing}, unexpected {extra}"
    load = lab.load()
    for realm, figures in load.items():
        assert figures["peak_in_flight"] <= 10, (realm, figures)
        assert figures["peak_requests_per_min"] <= 500, (realm, figures)
        assert figures["peak_batches_per_min"] <= 40, (realm, figures)
    failed = lab.jobs(state="failed")
    assert failed == [], failed
    return load


def test_fleet_on_postgresql_converges_under_sigkill_with_webhooks_and_events(tmp_path: Path) -> None:
    with throwaway_database() as url, fleet_lab(tmp_path, state=url, companies=4, profiles=14, ogustine=2,
                                                invoices=INVOICES, latency_ms=15) as lab:
        assert len(lab.profiles) == 16
        lab.start_service(port=int(lab.service_url.rsplit(":", 1)[1]), workers=0)
        # G5 live progress of runs that workers carry out elsewhere, heard for as long as the run takes (the workers
        # compile every profile first: on a loaded machine that alone can take a minute)
        _, progress = lab.listen(900)
        for n in range(3):
            lab.start_worker(n)
        time.sleep(3)
        lab.kill(lab.workers[0])           # mid-run: its job goes back to the queue once its heartbeat is stale
        lab.start_worker(3)
        ogustine = sorted(k for k in lab.profiles if k.startswith("ogustine/"))
        for key in ogustine:  # G5: the pack waits for its first sync to be launched
            lab.launch(key)
        for key in ogustine:
            _wait(lambda key=key: _first_run_done(lab, key), 180, f"{key}'s first sync")
            _validate_draft(lab, key)
        time.sleep(1)
        lab.kill(lab.workers[1])           # the second kill
        lab.start_worker(4)
        lab.wait_settled(300)
        _wait(lambda: bool(progress), 60, "a progress event on /status/stream")
        assert progress and {"profile", "done", "total"} <= set(progress[0])
        jobs = lab.jobs()
        assert {j["kind"] for j in jobs} >= {"scheduled", "event"}
        _check(lab, tmp_path)
        # the webhooks of our own writes reached every profile of each company, as a handful of jobs
        events = [j for j in jobs if j["kind"] == "event"]
        assert 0 < len(events) < 10 * len(lab.profiles)


def test_embedded_service_converges_after_a_sigkill(tmp_path: Path) -> None:
    with fleet_lab(tmp_path, state=str(tmp_path / "state.db"), companies=3, profiles=9, ogustine=1,
                   invoices=INVOICES, latency_ms=15) as lab:
        port = int(lab.service_url.rsplit(":", 1)[1])
        lab.start_service(port=port, workers=3)
        time.sleep(2)
        assert lab.service is not None
        lab.kill(lab.service)              # the one process, mid-run; its running jobs are queued again at start
        lab.start_service(port=port, workers=3)
        key = next(k for k in lab.profiles if k.startswith("ogustine/"))
        lab.launch(key)
        _wait(lambda: _first_run_done(lab, key), 180, f"{key}'s first sync")
        _validate_draft(lab, key)
        lab.wait_settled(240)
        _check(lab, tmp_path)
        assert "OG00_2025-05-03" in {n for _, n, _, _ in lab.documents()[lab.profiles[key]]}


def test_G8_an_invoice_validated_in_ogustine_is_sent_through_the_service_at_once(tmp_path: Path) -> None:
    """The pack's own `events:` declaration (signed Ogustine webhooks) and `schedule:` (the first sync launched
    by hand, then every 15 minutes), no flag."""
    with fleet_lab(tmp_path, state=str(tmp_path / "state.db"), companies=1, profiles=0, ogustine=1) as lab:
        lab.start_service(port=int(lab.service_url.rsplit(":", 1)[1]), workers=1)
        key = "ogustine/ogustine-00"
        time.sleep(3)  # ticks go by: the first sync waits to be launched (first_sync: manual, G5)
        assert {j["kind"] for j in lab.jobs(profile=key)} <= {"event"}  # the vendor renamed at set-up notified us
        assert lab.documents()[lab.profiles[key]] == []
        lab.launch(key)
        _wait(lambda: _first_run_done(lab, key), 120, "the first sync")
        numbers = {n for _, n, _, _ in lab.documents()[lab.profiles[key]]}
        assert "OG00_2025-05-01" in numbers and "OG00_2025-05-03" not in numbers  # F0003 is still a draft
        _validate_draft(lab, key)
        _wait(lambda: "OG00_2025-05-03" in {n for _, n, _, _ in lab.documents()[lab.profiles[key]]}, 60,
              "the validated invoice in QBO")
        kinds = [(j["kind"], j["state"]) for j in lab.jobs(profile=key)]
        assert ("event", "done") in kinds and ("first", "done") in kinds
