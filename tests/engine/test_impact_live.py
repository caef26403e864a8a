"""`passerelle impact --live` and `passerelle check --tables --recent` against a sandbox company served over
loopback HTTP (issue 18): impact plans both sides against the live company and issues no write (the
sandbox's request log holds reads only and its records are unchanged); `--recent` lists the source values of
the product's records that no table row covers."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, Sandbox, create_app, sandbox_of, serve
from connectors.sandbox.testing import TEST_TOKEN, test_config
from engine.cli.check import check
from engine.cli.impact import impact
from engine.store import open_store

ROOT = Path(__file__).resolve().parents[2]
REALM = DEFAULT_REALM_IDS["fr"]
ROW = "      Office Supplies: Fournitures administratives\n"
EDITED = "      Office Supplies: Frais postaux et télécommunications\n"


class Recorder:
    """ASGI middleware: every HTTP request the sandbox receives (method, path, body)."""

    def __init__(self, app: Any, seen: list[tuple[str, str, bytes]]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: list[bytes] = []

        async def recording() -> Any:
            message = await receive()
            body.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, recording, send)
        finally:
            self.seen.append((scope["method"], scope["path"], b"".join(body)))


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Sandbox, list[tuple[str, str, bytes]]]]:
    """The sandbox over loopback HTTP with its request log, configured through the environment; an empty,
    migrated state store (a read-only run opens it, never creates it)."""
    forget_limiters()
    application = create_app(test_config())
    seen: list[tuple[str, str, bytes]] = []
    application.add_middleware(Recorder, seen=seen)
    state = tmp_path / "state.db"
    open_store(str(state)).dispose()
    with serve(application) as base_url:
        monkeypatch.setenv("PASSERELLE_QBO_BASE_URL", base_url)
        monkeypatch.setenv("PASSERELLE_QBO_REALM", REALM)
        monkeypatch.setenv("PASSERELLE_QBO_ACCESS_TOKEN", TEST_TOKEN)
        monkeypatch.setenv("PASSERELLE_STATE", str(state))
        yield sandbox_of(application), seen
    sandbox_of(application).close()
    forget_limiters()


def invoke(command: Any, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def company(sandbox: Sandbox) -> str:
    with sandbox.store.lock:
        realm = sandbox.realm(REALM)
        return json.dumps([realm.entities, realm.tombstones, realm.last_id], sort_keys=True, default=str)


def writes(seen: list[tuple[str, str, bytes]]) -> list[tuple[str, str]]:
    """Requests that could change the company: any method but GET to a path other than /query, and any
    batch item with an operation (create, update, delete, void)."""
    out = []
    for method, path, body in seen:
        if method == "GET" or path.endswith("/query"):
            continue
        if path.endswith("/batch"):
            items = json.loads(body or b"{}").get("BatchItemRequest", [])
            if all("Query" in item and "operation" not in item for item in items):
                continue
        out.append((method, path))
    return out


def rules_copy(where: Path) -> Path:
    rules = where / "rules"
    shutil.copytree(ROOT / "rules/freshbooks", rules / "freshbooks")
    return rules


def test_impact_live_plans_against_the_company_and_writes_nothing(
        live: tuple[Sandbox, list[tuple[str, str, bytes]]], tmp_path: Path) -> None:
    sandbox, seen = live
    base, head = rules_copy(tmp_path / "base"), rules_copy(tmp_path / "head")
    tables = head / "freshbooks/tables.yaml"
    tables.write_text(tables.read_text(encoding="utf-8").replace(ROW, EDITED), encoding="utf-8")
    before = company(sandbox)
    code, out = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/demo", "--live", "--json")
    assert code == 2, out
    demo = json.loads(out)["profiles"][0]
    assert demo["status"] == "changed" and demo["inputs"][-1] == "live"
    bills = [d for d in demo["documents"] if d["inputs"] == "live" and d["entity"] == "Bill" and d["key"] == "9001"]
    assert len(bills) == 1, demo["documents"]
    fields = {f["field"]: (f["before"], f["after"]) for f in bills[0]["fields"]}
    assert fields["Line[0].AccountBasedExpenseLineDetail.AccountRef.name"] == (
        "Fournitures administratives", "Frais postaux et télécommunications")
    # only the documents the row reaches: invoices and payments plan the same on both sides
    assert {d["entity"] for d in demo["documents"] if d["inputs"] == "live"} == {"Bill"}
    assert any(path.endswith("/query") or path.endswith("/batch") for _, path, _ in seen), seen  # it read QBO
    assert writes(seen) == []
    assert company(sandbox) == before


def test_impact_live_on_an_unchanged_pack_reads_nothing_and_exits_0(
        live: tuple[Sandbox, list[tuple[str, str, bytes]]], tmp_path: Path) -> None:
    _, seen = live
    base, head = rules_copy(tmp_path / "base"), rules_copy(tmp_path / "head")
    code, text = invoke(impact, "--rules", str(head), "--base", str(base), "freshbooks/demo", "--live")
    assert code == 0 and "No changes." in text, text
    assert seen == []  # an unchanged profile is not planned, live or not


def recent_profile(where: Path, categories: list[str]) -> Path:
    """A FreshBooks profile whose product is files beside it: one expense per category, nothing else."""
    where.mkdir(parents=True, exist_ok=True)
    expenses = [{"expenseid": 7000 + n, "date": "2024-03-05", "vendor": "Papeterie Lefèvre", "category_name": name,
                 "amount": {"amount": "10.00", "code": "EUR"}, "taxName1": "VAT 20", "notes": None}
                for n, name in enumerate(categories)]
    (where / "expenses.json").write_text(json.dumps(expenses), encoding="utf-8")
    for name in ("invoices", "payments", "items"):
        (where / f"{name}.json").write_text("[]", encoding="utf-8")
    path = where / "recent.yaml"
    path.write_text(textwrap.dedent("""\
        passerelle: 1
        kind: profile
        profile: {name: recent}
        pack: freshbooks
        settings: {invoice_prefix: FB, sync_expenses: true, start_date: "2024-01-01"}
        connections:
          product:
            connector: file
            resources:
              invoices: {path: invoices.json, id: invoiceid}
              payments: {path: payments.json, id: paymentid}
              expenses: {path: expenses.json, id: expenseid}
              items: {path: items.json, id: itemid}
        """), encoding="utf-8")
    return path


def test_check_recent_lists_the_values_of_recent_records_no_row_covers(
        live: tuple[Sandbox, list[tuple[str, str, bytes]]], tmp_path: Path) -> None:
    sandbox, seen = live
    path = recent_profile(tmp_path / "p", ["Office Supplies", "Coworking desks", "Rent"])
    before = company(sandbox)
    code, text = invoke(check, str(path), "--tables", "--recent")
    assert code == 0, text  # uncovered values are warnings
    assert ("warning[E835]: table 'expense_categories' has no row for 'Coworking desks' (the default "
            "'Fournitures administratives' is used), looked up by recent records") in text
    assert "'expense_categories' has no row for 'Office Supplies'" not in text
    assert "'expense_categories' has no row for 'Rent'" not in text
    # rows the recent records do not reach are listed too; those they reach are not
    assert "table 'expense_categories' row 'Telephone': no record of the recent records reaches it" in text
    assert "row 'Rent': no record of the recent records reaches it" not in text
    assert writes(seen) == [] and company(sandbox) == before
    # the pack's cases hold no such category: without --recent the value is not listed
    code, text = invoke(check, str(path), "--tables")
    assert code == 0, text
    assert "Coworking desks" not in text and "looked up by case" in text
