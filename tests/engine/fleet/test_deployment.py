"""The profiles of a deployment: found on disk, kept current without a restart, a broken one set aside."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import sqlalchemy as sa

from engine.fleet.deployment import Deployment
from engine.store import Store
from engine.store.tables import connections


def test_profiles_added_changed_or_removed_are_seen_at_the_next_scan(tmp_path: Path, store: Store,
                                                                      deployment: Deployment) -> None:
    folder = tmp_path / "deployment" / "profiles"
    assert sorted(deployment.entries()) == ["freshbooks/fleet-000", "freshbooks/fleet-001", "freshbooks/fleet-002"]
    assert deployment.scan().added == ()  # nothing changed: nothing compiled again
    shutil.copy(folder / "fleet-000.yaml", folder / "fleet-009.yaml")
    (folder / "fleet-009.yaml").write_text((folder / "fleet-009.yaml").read_text(encoding="utf-8").replace(
        "name: fleet-000", "name: fleet-009"), encoding="utf-8")
    (folder / "fleet-001.yaml").unlink()
    changed = folder / "fleet-002.yaml"
    changed.write_text(changed.read_text(encoding="utf-8") + "schedule: {every: 30m}\n", encoding="utf-8")
    report = deployment.scan()
    assert report.added == ("freshbooks/fleet-009",) and report.removed == ("freshbooks/fleet-001",)
    assert report.changed == ("freshbooks/fleet-002",)
    assert deployment.entries()["freshbooks/fleet-002"].every == 1800.0


def test_a_profile_that_does_not_compile_is_listed_with_its_error_and_never_run(tmp_path: Path, store: Store,
                                                                                deployment: Deployment) -> None:
    broken = tmp_path / "deployment" / "profiles" / "fleet-001.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("invoice_prefix", "invoice_prefx"), encoding="utf-8")
    report = deployment.scan()
    assert len(report.failed) == 1
    (bad,) = [e for e in deployment.entries().values() if e.error]
    assert "fleet-001.yaml" in (bad.error or "") and "invoice_prefx" in (bad.error or "")
    assert "freshbooks/fleet-001" not in {e.key for e in deployment.runnable()}
    assert len(deployment.runnable()) == 2


def test_a_profile_connected_with_passerelle_connect_takes_its_company_from_the_store(
        tmp_path: Path, store: Store, deployment: Deployment) -> None:
    path = tmp_path / "deployment" / "profiles" / "fleet-000.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("qbo: {connector: qbo, realm:", "# qbo:"), encoding="utf-8")
    deployment.scan()
    assert deployment.get("freshbooks/fleet-000").realm is None  # type: ignore[union-attr]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(connections).values(
            profile="freshbooks/fleet-000", realm_id="4620816365", access_token=b"x", refresh_token=b"x",
            access_expires_at=dt.datetime.now(dt.UTC), version=0, updated_at=dt.datetime.now(dt.UTC)))
    deployment.scan()
    assert deployment.get("freshbooks/fleet-000").realm == "4620816365"  # type: ignore[union-attr]
    assert [e.key for e in deployment.by_realm("4620816365")] == ["freshbooks/fleet-000"]
