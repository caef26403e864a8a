"""`passerelle init`: the new pack validates and passes its case at once, and the tutorial's first sync works on
the sandbox over HTTP (docs/tutorial.md follows these same commands)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from tests.engine.runtime.conftest import REALM
from tests.engine.test_cli import run


def test_init_writes_a_pack_that_validates_passes_its_case_and_syncs_on_the_sandbox(
        served: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run("init", "acme")
    assert code == 0, out
    assert "created rules/acme: 1 pack, 1 profile, 1 case" in out
    for path in ("pack.yaml", "customers/demo.yaml", "data/invoices.json", "cases/first_sync/expected.txt"):
        assert (tmp_path / "rules" / "acme" / path).is_file(), path
    assert run("validate", "rules/acme")[0] == 0
    code, out = run("test", "acme")
    assert code == 0 and "1 case(s): 1 passed" in out, out
    code, out = run("init", "acme")
    assert code == 1 and "exists already" in out

    code, out = run("check", "acme/demo")
    assert code == 0 and "every value names an active QBO record of the right kind" in out, out
    code, out = run("plan", "acme/demo", "--detailed-exitcode")
    assert code == 2 and "+ create Invoice DEMO-1001" in out and "status draft is not sent" in out, out
    code, out = run("apply", "acme/demo", "--yes")
    assert code == 0, out
    invoices = {i["DocNumber"]: i for i in served.query(REALM, "SELECT * FROM Invoice").get("Invoice", [])}
    assert set(invoices) == {"DEMO-1001", "DEMO-1002"}
    assert invoices["DEMO-1002"]["CustomerRef"]["name"] == "Boulangerie Dupont"  # created by the sync
    assert run("plan", "acme/demo", "--detailed-exitcode")[0] == 0  # nothing left to do
