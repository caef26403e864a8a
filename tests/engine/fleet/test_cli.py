"""The service's commands: enqueue and list jobs, and a worker refused on a store it cannot share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "state.db"))
    return tmp_path


def test_enqueue_then_jobs_lists_it(env: Path, profiles: dict[str, str]) -> None:
    runner = CliRunner()
    path = env / "deployment" / "profiles" / "fleet-001.yaml"
    queued = runner.invoke(cli, ["enqueue", str(path), "--record", "5000"])
    assert queued.exit_code == 0, queued.output
    assert "manual of freshbooks/fleet-001 queued" in queued.output
    again = runner.invoke(cli, ["enqueue", str(path), "--record", "5000"])
    assert again.output.split()[1] == queued.output.split()[1]  # the same job: the request joined it
    listed = runner.invoke(cli, ["jobs", "--json"])
    (job,) = json.loads(listed.output)
    assert job["profile"] == "freshbooks/fleet-001" and job["record"] == "5000" and job["state"] == "queued"
    assert job["coalesced"] == 1
    text = runner.invoke(cli, ["jobs", "--state", "queued"]).output
    assert "queued   manual    freshbooks/fleet-001 record 5000" in text and "(+1 joined)" in text
    assert runner.invoke(cli, ["jobs", "--state", "failed"]).output.strip() == "no jobs"


def test_a_worker_needs_a_postgresql_store_and_says_so(env: Path) -> None:
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 1
    assert "error[E705]" in result.output and "PostgreSQL" in result.output
    assert "Traceback" not in result.output


def test_enqueue_of_an_unknown_profile_is_an_error_not_a_traceback(env: Path) -> None:
    result = CliRunner().invoke(cli, ["enqueue", "freshbooks/nobody"])
    assert result.exit_code == 1 and "not found" in result.output and "Traceback" not in result.output
