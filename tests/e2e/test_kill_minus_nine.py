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


def _run(tmp_path: Path, name: str, kill_after: float | None) -> dict[str, Any]:
    forget_limiters()
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TEST_TOKEN,), latency_ms=60))
    sandbox = sandbox_of(app)
    with serve(app) as base_url:
        env = _env(base_url, tmp_path / f"{name}.db")
        if kill_after is not None:
            process = _apply(env, subprocess.DEVNULL)
            time.sleep(kill_after)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            PARTIAL.append(sum(len(rows) for rows in _documents(sandbox).values()))
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
    for moment in (2.6, 3.0, 3.4, 3.8):  # the process needs ~2.5 s to start and plan before writing
        assert _run(tmp_path, f"killed-{moment}", moment) == clean, f"killed after {moment}s"
    baseline = sum(len(rows) for rows in _empty_company().values())
    print(f"documents after each kill: {PARTIAL} (empty company {baseline}, complete {full})")
    assert any(baseline < partial < full for partial in PARTIAL), f"no kill landed mid-apply: {PARTIAL}"


def _empty_company() -> dict[str, Any]:
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),), static_tokens=(TEST_TOKEN,)))
    try:
        return _documents(sandbox_of(app))
    finally:
        sandbox_of(app).close()
