"""Machines: one shared transitions definition, static checks, and firing on plain-data states."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.build import thaw
from engine.errors import PasserelleError
from engine.machines import mermaid
from engine.pipeline import run_pipeline


def test_fire_uses_shared_definition_and_guards(repair_shop: Path) -> None:
    machine = run_pipeline(repair_shop / "pack.yaml").compiled.machines["invoice"]
    assert machine.fire("new", "start", {}) == "in_progress"
    assert machine.fire("new", "finish", {}) is None
    assert machine.fire("done", "settle", {"event": {"amount": 10}}) == "paid"
    assert machine.fire("done", "settle", {"event": {"amount": 0}}) is None
    assert machine.definition.models == []  # no per-record machine objects


def test_O7_forbidden_event_mapping_points_at_the_profile_line(tmp_path: Path, repair_shop: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: p}}\npack: {repair_shop}\n"
                       "settings:\n  status_on_update: new\n", encoding="utf-8")
    with pytest.raises(PasserelleError) as caught:
        run_pipeline(profile)
    (error,) = caught.value.errors
    assert error.code == "E506"
    assert error.loc is not None and error.loc.file.endswith("p.yaml") and error.loc.line == 6
    assert "no transition to it from 'done', 'in_progress'" in error.message


def test_unknown_goto_state_is_reported_with_did_you_mean(tmp_path: Path, repair_shop: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"passerelle: 1\nkind: profile\nprofile: {{name: p}}\npack: {repair_shop}\n"
                       "settings:\n  status_on_update: don\n", encoding="utf-8")
    with pytest.raises(PasserelleError) as caught:
        run_pipeline(profile)
    assert [e.code for e in caught.value.errors] == ["E501"]
    assert caught.value.errors[0].hint == "did you mean 'done'?"


def test_mermaid_and_compiled_machine_snapshot(repair_shop: Path, snapshot: object) -> None:
    loaded = run_pipeline(repair_shop / "customers" / "strict.yaml")
    machine = loaded.compiled.machines["invoice"]
    summary = {
        "mermaid": mermaid(machine.machine),
        "states": list(machine.definition.states),
        "gotos": [(t.trigger.source, t.goto_state) for t in machine.triggers if t.goto is not None],
        "settings": {k: thaw(v) for k, v in loaded.compiled.settings.items()},
    }
    assert summary == snapshot
