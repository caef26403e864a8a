"""``kill -9`` during ``passerelle apply``, at several moments, then a rerun: no duplicate in QBO and
nothing lost (the documents equal an uninterrupted run's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, create_app, sandbox_of, serve
from connectors.sandbox.testing import TEST_TOKEN
from tests.e2e.test_sync_under_faults import _documents

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "rules/freshbooks/customers/demo.yaml")
REALM = DEFAULT_REALM_IDS["fr"]


def _env(base_url: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update(PASSERELLE_QBO_BASE_URL=base_url, PASSERELLE_QBO_REALM=REALM, PASSERELLE_QBO_ACCESS_TOKEN=TEST_TOKEN,
               PASSERELLE_STATE=str(state))
    return env


def _apply(env: dict[str, str], output: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "apply", DEMO, "--yes"], env=env, cwd=ROOT,
                            stdout=output, stderr=subprocess.STDOUT)


PARTIAL: list[int] = []  # documents present right after each kill


def _count(sandbox: Any) -> int:
    return sum(len(rows) for rows in _documents(sandbox).values())


def _run(tmp_path: Path, name: str, kill_after: int | None, baseline: int = 0) -> dict[str, Any]:
    """Apply the demo; with ``kill_after``, SIGKILL the process once that many new documents exist in QBO
    (so the kill lands mid-apply whatever the machine's speed), then apply again to completion."""
    forget_limiters()
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TEST_TOKEN,), latency_ms=60))
    sandbox = sandbox_of(app)
    with serve(app) as base_url:
        env = _env(base_url, tmp_path / f"{name}.db")
        if kill_after is not None:
            process = _apply(env, subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline:
                if _count(sandbox) >= baseline + kill_after:
                    os.kill(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
            process.wait(timeout=30)
            PARTIAL.append(_count(sandbox))
        finished = _apply(env)
        output = finished.communicate(timeout=120)[0].decode()
        assert finished.returncode == 0, output
        assert "Traceback" not in output
        documents = _documents(sandbox)
    sandbox.close()
    return documents


@pytest.mark.e2e
def test_E2_kill_9_during_apply_then_rerun_gives_no_duplicate_and_nothing_lost(tmp_path: Path) -> None:
    clean = _run(tmp_path, "clean", None)
    assert len(clean["Invoice"]) == 2 and len(clean["Payment"]) == 2 and len(clean["Bill"]) == 3
    full = sum(len(rows) for rows in clean.values())
    baseline = sum(len(rows) for rows in _empty_company().values())
    for written in (1, 5, 9, 13):  # kill after this many documents reached QBO
        assert _run(tmp_path, f"killed-{written}", written, baseline) == clean, f"killed after {written} documents"
    print(f"documents after each kill: {PARTIAL} (empty company {baseline}, complete {full})")
    assert sum(baseline < partial < full for partial in PARTIAL) >= 3, f"kills did not land mid-apply: {PARTIAL}"


def _empty_company() -> dict[str, Any]:
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TEST_TOKEN,)))
    try:
        return _documents(sandbox_of(app))
    finally:
        sandbox_of(app).close()
