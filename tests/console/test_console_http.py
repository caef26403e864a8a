"""The console over HTTP without a browser: sign-in, sessions, CSRF, read-only links, the settings overlay and
choices read from QBO (the browser journeys are in test_console_browser.py)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from engine.console.auth import Auth
from engine.console.overlay import replace_key, save_enabled, save_settings
from engine.errors import Loc
from engine.model import Setting
from engine.pipeline import run_pipeline
from engine.runtime.choices import Choice, check_choice, choices_of
from engine.runtime.history import list_errors
from tests.console.conftest import ADMIN_TOKEN, ConsoleLab


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@contextmanager
def signed_in(lab: ConsoleLab) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lab.console, timeout=60, follow_redirects=True) as client:
        form = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(form.text), "token": ADMIN_TOKEN, "next": ""})
        assert answer.status_code == 200 and "Profiles" in answer.text
        yield client


def test_pages_need_a_sign_in_and_the_token_is_checked(console_lab: ConsoleLab) -> None:
    with httpx.Client(base_url=console_lab.url, timeout=30) as client:
        assert client.get("/").headers["location"] == "/console/"
        answer = client.get("/console/p/ogustine/lyon")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
        assert client.post("/console/p/ogustine/lyon/jobs", data={"kind": "manual"}).status_code == 401
        form = client.get("/console/login")
        wrong = client.post("/console/login", data={"csrf": csrf_of(form.text), "token": "nope"})
        assert wrong.status_code == 401 and "Wrong token or password" in wrong.text
        no_csrf = client.post("/console/login", data={"token": ADMIN_TOKEN})
        assert no_csrf.status_code == 403
        right = client.post("/console/login", data={"csrf": csrf_of(form.text), "token": ADMIN_TOKEN,
                                                    "next": "/console/p/ogustine/lyon"})
        assert right.status_code == 303 and right.headers["location"] == "/console/p/ogustine/lyon"
        page = client.get("/console/p/ogustine/lyon")
        assert page.status_code == 200 and "ogustine/lyon" in page.text
        assert ADMIN_TOKEN not in page.text  # no secret is ever rendered


def test_every_form_needs_the_session_csrf_token(console_lab: ConsoleLab) -> None:
    with signed_in(console_lab) as client:
        before = len(console_lab.service.queue.jobs(profile="ogustine/lyon"))
        refused = client.post("/p/ogustine/lyon/jobs", data={"kind": "manual", "csrf": "forged"})
        assert refused.status_code == 403 and "Form expired" in refused.text
        assert len(console_lab.service.queue.jobs(profile="ogustine/lyon")) == before
        refused = client.post("/p/ogustine/lyon/suspend", data={"until": "2999-01-01"})
        assert refused.status_code == 403


def test_profiles_are_listed_with_their_health_searched_and_filtered(console_lab: ConsoleLab) -> None:
    with signed_in(console_lab) as client:
        page = client.get("/").text
        assert "ogustine/lyon" in page and "pleo/noel" in page and "not connected" in page
        only = client.get("/", params={"q": "pleo"}).text
        assert "pleo/noel" in only and "ogustine/lyon" not in only
        assert "1 of 2 profile(s)" in only
        assert "No profile matches" in client.get("/", params={"state": "suspended"}).text
        assert "2 of 2" in client.get("/", params={"state": "unconnected"}).text


def test_a_read_only_link_shows_one_profile_and_changes_nothing(console_lab: ConsoleLab) -> None:
    with signed_in(console_lab) as admin:
        page = admin.get("/p/ogustine/lyon")
        shared = admin.post("/p/ogustine/lyon/share", data={"csrf": csrf_of(page.text)})
        link = re.search(r"(http://[^ <]+/console/share/[^ <]+)", shared.text)
        assert link, shared.text
    with httpx.Client(timeout=30, follow_redirects=True) as visitor:
        seen = visitor.get(link.group(1))
        assert seen.status_code == 200 and "ogustine/lyon" in seen.text and "read-only link" in seen.text
        assert "Resync this item" not in seen.text and 'action="/console/p/ogustine/lyon/suspend"' not in seen.text
        refused = visitor.post(f"{console_lab.console}/p/ogustine/lyon/jobs", data={"csrf": "x", "kind": "manual"})
        assert refused.status_code == 403 and "Read-only" in refused.text
        assert visitor.get(f"{console_lab.console}/p/pleo/noel").status_code == 403
        assert visitor.get(f"{console_lab.console}/").status_code == 403
        bad = visitor.get(f"{console_lab.console}/share/forged.token")
        assert bad.status_code == 403


def test_a_session_lapses_after_the_idle_time_and_the_maximum_age(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = Auth("secret", {"PASSERELLE_CONSOLE_IDLE": "60", "PASSERELLE_CONSOLE_MAX_AGE": "300"})
    clock = {"now": 1000.0}
    monkeypatch.setattr(time, "time", lambda: clock["now"])
    request = SimpleNamespace(session={})
    auth.log_in(request)  # type: ignore[arg-type]
    assert auth.viewer(request) is not None  # type: ignore[arg-type]
    clock["now"] += 59
    assert auth.viewer(request) is not None  # type: ignore[arg-type]
    clock["now"] += 61
    assert auth.viewer(request) is None and request.session == {}  # type: ignore[arg-type]
    auth.log_in(request)  # type: ignore[arg-type]
    for _ in range(6):  # active all along, yet out after the maximum age
        clock["now"] += 55
        seen = auth.viewer(request)  # type: ignore[arg-type]
    assert seen is None


# -- the overlay and the choices (no service needed) ---------------------------------------------------------

def test_replace_key_rewrites_only_that_top_level_key() -> None:
    text = "passerelle: 1\n# about settings\nsettings:\n  a: 1   # mine\n  b: [x]\n\ntables: {}\n"
    assert replace_key(text, "settings", ["settings:", "  a: 2"]) == (
        "passerelle: 1\n# about settings\nsettings:\n  a: 2\n\ntables: {}\n")
    assert replace_key(text, "settings", None) == "passerelle: 1\n# about settings\n\ntables: {}\n"
    assert replace_key("a: 1\n", "enabled", ["enabled: false"]) == "a: 1\nenabled: false\n"


def _pleo_profile(tmp_path: Path) -> Path:
    from tests.console.conftest import PLEO
    path = tmp_path / "noel.yaml"
    path.write_text(PLEO, encoding="utf-8")
    return path


def test_settings_are_saved_as_the_overlay_and_bad_values_get_the_validate_message(tmp_path: Path) -> None:
    path = _pleo_profile(tmp_path)
    loaded = run_pipeline(path)
    before = path.read_text(encoding="utf-8")
    bad = save_settings(path, loaded, {"pleo_account_number": "51A", "tax_calculation": "Sometimes"})
    assert not bad.ok and path.read_text(encoding="utf-8") == before  # nothing written
    fields = {e.field: e for e in bad.errors}
    assert set(fields) == {"pleo_account_number", "tax_calculation"}
    assert fields["pleo_account_number"].message.startswith(f"{path}:")  # located in the profile, as validate says
    assert "error[E312]" in fields["tax_calculation"].message and "Sometimes" in fields["tax_calculation"].message
    assert not list(tmp_path.glob(".*tmp"))
    good = save_settings(path, loaded, {"pleo_account": "Banque BNP", "attach_receipts": False,
                                        "account_match": "AcctNum"})  # AcctNum is the pack's default: left out
    assert good.ok, good.errors
    text = path.read_text(encoding="utf-8")
    assert 'pleo_account: "Banque BNP"' in text and "attach_receipts: false" in text and "account_match" not in text
    assert "publish_lists: false" in text and text.startswith("# The Pleo demo over files")  # the rest is kept
    assert run_pipeline(path).resolved.settings["pleo_account"].value == "Banque BNP"


def test_switching_off_writes_enabled_false(tmp_path: Path) -> None:
    path = _pleo_profile(tmp_path)
    assert save_enabled(path, False).ok and run_pipeline(path).resolved.enabled is False
    assert save_enabled(path, True).ok and run_pipeline(path).resolved.enabled is True
    assert "enabled" not in path.read_text(encoding="utf-8")


def test_choices_come_from_the_matching_active_records() -> None:
    spec = {"entity": "Account", "where": {"AccountType": "Bank"}, "value": "Name", "label": "Name"}
    records = [{"Name": "Banque Pleo", "AccountType": "Bank"}, {"Name": "Achats", "AccountType": "Expense"},
               {"Name": "Ancienne banque", "AccountType": "Bank", "Active": False}, {"Name": "BNP", "AccountType": "Bank"}]
    assert choices_of(spec, records) == [Choice("Banque Pleo", "Banque Pleo"), Choice("BNP", "BNP")]
    setting = Setting("pleo_account", "string", "", Loc("x"), choices_from=spec)
    assert check_choice(setting, "BNP", choices_of(spec, records)) is None
    message = check_choice(setting, "Achats", choices_of(spec, records))
    assert message is not None and "Banque Pleo, BNP" in message
    assert check_choice(setting, "", choices_of(spec, records)) is None


@pytest.mark.parametrize("path", ["/p/ogustine/nobody", "/p/other/lyon"])
def test_an_unknown_profile_is_a_page_not_a_traceback(console_lab: ConsoleLab, path: str) -> None:
    with signed_in(console_lab) as client:
        answer = client.get(path)
        assert answer.status_code == 404 and "No such profile" in answer.text


def test_a_conflict_offers_keep_ours_and_take_qbos_and_a_bad_decision_says_why(console_lab: ConsoleLab) -> None:
    from engine.runtime.history import record_error

    with console_lab.store.engine.begin() as conn:
        record_error(conn, "ogustine/lyon", "invoices", "F0001", run_id=None, fault_class="conflict", code=None,
                     message="conflict on Invoice 130: changed by hand since our last write (DueDate)", hint=None)
        record_error(conn, "ogustine/lyon", "invoices", "F0002", run_id=None, fault_class="data", code=None,
                     message="unknown VAT rate", hint=None)
    with signed_in(console_lab) as client:
        assert "1 conflict<" in client.get("/").text  # counted on the profiles list
        page = client.get("/p/ogustine/lyon")
        assert "(1 conflict to decide)" in page.text
        take = page.text.count(">Take QBO&#39;s<") + page.text.count(">Take QBO's<")
        assert page.text.count(">Keep ours<") == 1 and take == 1
        conflict = next(e for e in list_errors(console_lab.store, "ogustine/lyon") if e.fault_class == "conflict")
        other = next(e for e in list_errors(console_lab.store, "ogustine/lyon") if e.fault_class == "data")
        refused = client.post(f"/p/ogustine/lyon/errors/{other.id}/decide",
                              data={"csrf": csrf_of(page.text), "choice": "ours"}, follow_redirects=True)
        assert f"no conflict #{other.id}" in refused.text
        forged = client.post(f"/p/ogustine/lyon/errors/{conflict.id}/decide", data={"csrf": "x", "choice": "ours"})
        assert forged.status_code == 403


def test_a_table_row_naming_no_qbo_record_is_refused_with_the_list_and_the_file_kept(console_lab: ConsoleLab) -> None:
    """The table form checks a value that names a QBO record against the company's records, like
    `passerelle table set` does; a good value is saved as the profile's change of the table."""
    from connectors.qbo.cli import run_connect

    run_connect(str(console_lab.profile_file("noel")), browser=False, timeout=30, echo=lambda _text: None)
    console_lab.service.deployment.scan()
    before = console_lab.profile_file("noel").read_text(encoding="utf-8")
    with signed_in(console_lab) as client:
        page = client.get("/p/pleo/noel")
        assert 'id="table-category_accounts"' in page.text and "606400 · Fournitures administratives" in page.text
        refused = client.post("/p/pleo/noel/tables/category_accounts",
                              data={"csrf": csrf_of(page.text), "new.key": "Loyer", "new.value": "512000"})
        assert refused.status_code == 400, refused.text
        shown = html.unescape(re.sub(r"<[^>]+>", "", refused.text))
        assert "error[E830]" in shown and "'512000' is not one of the Account records" in shown
        assert "606400" in shown.split("'512000' is not one of")[1]  # the list offered
        assert console_lab.profile_file("noel").read_text(encoding="utf-8") == before
        saved = client.post("/p/pleo/noel/tables/category_accounts",
                            data={"csrf": csrf_of(page.text), "new.key": "Loyer", "new.value": "613200", "rm.0": "1"})
        assert saved.status_code == 200 and "Table category_accounts saved" in saved.text
    loaded = run_pipeline(console_lab.profile_file("noel"))
    rows = {k: r.value for k, r in loaded.resolved.tables["category_accounts"].rows.items()}
    assert rows["Loyer"] == "613200" and "Fournitures de bureau" not in rows  # row 0 removed over the pack's
