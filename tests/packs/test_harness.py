"""The pack harness itself: a file-based profile and an http-based one both sync through it."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.product import FakeProduct
from tests.fakes.specs import freshbooks
from tests.packs.harness import pack_run

ROOT = Path(__file__).resolve().parents[2]


def test_harness_syncs_a_file_profile() -> None:
    with pack_run(ROOT / "rules/freshbooks/customers/demo.yaml") as run:
        _, report = run.sync()
        assert report.ok, report.failures
        assert sorted(i["DocNumber"] for i in run.query("Invoice")) == ["FB1201", "FB1202"]
        assert not run.plan().has_changes


def test_harness_reads_a_product_fake_through_the_http_connection() -> None:
    fake = FakeProduct(freshbooks.spec())
    with pack_run(ROOT / "rules/freshbooks/customers/boulangerie-martin.yaml", products={"product": fake},
                  env={"MARTIN_FRESHBOOKS_TOKEN": freshbooks.TOKEN}) as run:
        plan = run.plan()
        keys = {c.key for c in plan.changes if c.flow == "invoices"}
        assert keys == {str(1200 + n) for n in range(1, 6)}  # every invoice of the fake was read and considered
        assert any(r.path.endswith("/invoices/invoices") for r in fake.requests)
