"""The console in a real browser (Playwright driving Debian's Chromium) against the sandbox over HTTP: the seed
screens end to end. Screenshots of each page are taken (PASSERELLE_SCREENSHOTS=1 keeps them in docs/console/,
shown in the README).

- sign in, the profiles with their health, search and filter;
- Ogustine (G3-G6, G9-G12, O2): connect by OAuth, switch off and on, the VAT check failing then "retry",
  the first-sync preview, "launch" with live progress to 100 %, a broken table row's errors with their hint,
  fixed, "resync this item" then greyed as resolved, "retry all", suspend and resume, jobs and runs;
- Pleo (P1, P2): connect, the missing bank account created by the check's fix, the account picked in the
  settings from QBO's chart, a bad value refused at its field with the message `passerelle validate` gives.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.console.conftest import ADMIN_TOKEN, REALM, ConsoleLab, shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

BROKEN_ROW = 'tables: {vat_rates: {replace: {"20.0": "TVA 99 %"}}}   # a wrong QBO tax code name\n'


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect


def sign_in(page: Any, lab: ConsoleLab, then: str = "/") -> None:
    page.goto(f"{lab.console}{then}")
    page.get_by_label("Admin token or console password").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect()(page.get_by_role("link", name="Profiles")).to_be_visible()


def connect(page: Any, lab: ConsoleLab, key: str) -> None:
    page.goto(f"{lab.console}/p/{key}")
    expect()(page.locator("#realm")).to_contain_text("Not connected")
    page.get_by_role("button", name="Connect to QuickBooks").click()
    expect()(page.locator(".flash")).to_contain_text(f"Connected to QuickBooks company {REALM}")
    expect()(page.locator("#realm")).to_contain_text(f"Connected to company {REALM}")


def wait_for_job(page: Any, lab: ConsoleLab, key: str, kind: str) -> None:
    """Reload the profile page until the newest job of ``kind`` is done (the page is what a person watches)."""
    row = page.locator("#job-list tbody tr").filter(has_text=kind).first
    for _ in range(120):
        page.goto(f"{lab.console}/p/{key}")
        state = row.locator("td").nth(2).inner_text()
        if state in ("done", "failed"):
            assert state == "done", row.inner_text()
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"job {kind} of {key} did not finish")


def test_sign_in_then_profiles_with_health_search_and_filter(page: Any, console_lab: ConsoleLab) -> None:
    page.goto(console_lab.url)  # / leads to the console, which asks to sign in first
    expect()(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Admin token or console password").fill("not the token")
    page.get_by_role("button", name="Sign in").click()
    expect()(page.locator("#login-error")).to_contain_text("Wrong token or password")
    shot(page, "login")
    page.get_by_label("Admin token or console password").fill(ADMIN_TOKEN)
    page.keyboard.press("Enter")  # keyboard only
    rows = page.locator("#profiles tbody tr")
    expect()(rows).to_have_count(2)
    expect()(page.locator('tr[data-profile="ogustine/lyon"]')).to_contain_text("not connected")
    shot(page, "profiles")
    page.get_by_label("Search").fill("pleo")
    page.get_by_role("button", name="Filter").click()
    expect()(rows).to_have_count(1)
    expect()(rows.first).to_contain_text("pleo/noel")
    page.get_by_label("Search").fill("")
    page.get_by_label("Show").select_option("suspended")
    page.get_by_role("button", name="Filter").click()
    expect()(rows.first).to_contain_text("No profile matches")


def test_ogustine_connect_check_preview_first_sync_with_progress_errors_resync_suspend(
        page: Any, console_lab: ConsoleLab) -> None:
    lab, key = console_lab, "ogustine/lyon"
    sign_in(page, lab)
    connect(page, lab, key)
    shot(page, "profile")

    # O2: the switch
    page.get_by_role("button", name="Switch off").click()
    expect()(page.locator("#enabled-state")).to_contain_text("The integration is off")
    assert "enabled: false" in lab.profile_file("lyon").read_text(encoding="utf-8")
    page.get_by_role("button", name="Switch on").click()
    expect()(page.locator("#enabled-state")).to_contain_text("The integration is on")

    # G6: VAT not set up: a clear message; "retry" once it is
    lab.set_tax_codes_active(False)
    page.get_by_role("link", name="Prerequisite checks").click()
    vat = page.locator('li[data-check="vat_set_up"]')
    expect()(vat).to_contain_text("✗ failed")
    expect()(vat).to_contain_text("the VAT profile is not set up")
    expect()(vat).to_contain_text("Set up VAT")
    shot(page, "checks")
    lab.set_tax_codes_active(True)
    page.get_by_role("link", name="Retry").click()
    expect()(vat).to_contain_text("✓ passed")

    # a broken table row (a tax code QBO does not have), then G3/E1: the preview, nothing written
    path = lab.profile_file("lyon")
    good = path.read_text(encoding="utf-8")
    path.write_text(good + BROKEN_ROW, encoding="utf-8")
    page.goto(f"{lab.console}/p/{key}/preview")
    expect()(page.get_by_role("heading", name="Preview of the first sync")).to_be_visible()
    table = page.locator("#plan-table")
    expect()(table.locator('tr[data-action="create"]').filter(has_text="OGUSTINE_2025-04-01")).to_have_count(1)
    expect()(table.locator('tr[data-action="error"]').first).to_be_visible()
    assert lab.query("Invoice") == []
    shot(page, "preview")

    # G5: launch, live progress over the event stream up to 100 %
    box = page.locator("#launch")
    expect()(box).to_have_attribute("data-sse", "open")
    page.get_by_role("button", name="Launch the first sync").click()
    expect()(box).to_have_attribute("data-state", "done", timeout=60_000)
    expect()(page.locator("#progress-text")).to_contain_text("100 %")
    assert int(box.get_attribute("data-events") or 0) >= 1  # ticks came live, not only at the end
    shot(page, "first-sync-progress")
    assert {row["DocNumber"] for row in lab.query("Invoice")} >= {"OGUSTINE_2025-04-01"}

    # G10: the errors, with what to fix
    page.goto(f"{lab.console}/p/{key}#errors")
    open_rows = page.locator("tr.error-row.status-open")
    expect()(open_rows.first).to_be_visible()
    count = open_rows.count()
    first = open_rows.filter(has_text="TVA 99 %").first  # the row's own error (others follow from it)
    expect()(first).to_contain_text("TVA 99 %")
    error_id = first.get_attribute("data-error")
    shot(page, "errors")

    # G11: fix the row, "resync this item"; G12: it stays listed, greyed, as resolved
    path.write_text(good, encoding="utf-8")
    first.get_by_role("button", name=re.compile("Resync this item")).click()
    expect()(page.locator(".flash")).to_contain_text(f"resync of error #{error_id} is queued")
    wait_for_job(page, lab, key, "resync")
    row = page.locator(f'tr[data-error="{error_id}"]')
    expect()(row).to_have_class(re.compile("status-resolved"))
    expect()(row).to_contain_text("✓ resolved")
    assert page.locator("tr.error-row.status-open").count() < count
    # "retry all": a new full sync resolves the rest
    page.get_by_role("button", name="Retry all").click()
    wait_for_job(page, lab, key, "manual")
    expect()(page.locator("tr.error-row.status-open")).to_have_count(0)
    expect()(page.locator("tr.error-row.status-resolved")).to_have_count(count)
    shot(page, "errors-resolved")

    # G9: suspend until a date; a past date resumes
    page.get_by_label("Suspend until (a past date resumes)").fill("2999-01-01")
    page.get_by_role("button", name="Suspend").click()
    expect()(page.locator("#suspended-state")).to_contain_text("suspended until 2999-01-01")
    page.get_by_label("Suspend until (a past date resumes)").fill("2020-01-01")
    page.get_by_role("button", name="Suspend").click()
    expect()(page.locator("#suspended-state")).to_contain_text("Automatic sync is running")

    # jobs and runs of the profile
    jobs = page.locator("#job-list tbody tr")
    expect()(jobs.filter(has_text="first")).to_have_count(1)
    expect()(page.locator("#run-list tbody tr").first).to_be_visible()
    shot(page, "jobs")


def test_pleo_connect_fix_the_bank_account_then_pick_it_from_qbo_in_the_settings(
        page: Any, console_lab: ConsoleLab) -> None:
    lab, key = console_lab, "pleo/noel"
    sign_in(page, lab)
    connect(page, lab, key)

    # P1: the Pleo bank account is missing; the check's fix creates it
    page.get_by_role("link", name="Prerequisite checks").click()
    check = page.locator('li[data-check="pleo_bank_account_exists"]')
    expect()(check).to_contain_text("✗ failed")
    page.get_by_role("button", name='Fix: create Account "Banque Pleo" in QuickBooks').click()
    expect()(page.locator(".flash")).to_contain_text('Created Account "Banque Pleo" in QuickBooks')
    expect()(check).to_contain_text("✓ passed")
    assert any(a["Name"] == "Banque Pleo" for a in lab.query("Account"))

    # P2: the account is picked among QBO's bank accounts, read live
    page.goto(f"{lab.console}/p/{key}#settings")
    account = page.get_by_label("pleo account", exact=True)
    options = account.locator("option").all_inner_texts()
    assert {"Banque Pleo", "Banque principale", "Banque secondaire"} <= set(options), options
    assert "Achats de marchandises" not in options  # expense accounts are not offered
    account.select_option("Banque secondaire")
    number = page.get_by_label("pleo account number", exact=True)
    number.fill("51A")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#err-pleo_account_number")
    expect()(error).to_contain_text(f"{lab.profile_file('noel')}:")
    expect()(error).to_contain_text("error[E")
    expect()(error).to_contain_text("$.settings.pleo_account_number")
    expect()(page.get_by_label("pleo account", exact=True)).to_have_value("Banque secondaire")  # kept
    assert "51A" not in lab.profile_file("noel").read_text(encoding="utf-8")
    shot(page, "settings-error")
    page.get_by_label("pleo account number", exact=True).fill("512300")
    page.get_by_role("button", name="Save settings").click()
    expect()(page.locator(".flash")).to_contain_text("Settings saved")
    text = lab.profile_file("noel").read_text(encoding="utf-8")
    assert 'pleo_account: "Banque secondaire"' in text and "pleo_account_number" not in text  # the default
    expect()(page.get_by_label("pleo account", exact=True)).to_have_value("Banque secondaire")
    shot(page, "settings")

    # P3: a Pleo category's QBO expense account is picked among the company's expense accounts (read live), as a
    # row of the profile's own change of the `category_accounts` table; P4: a tag's class among QBO's classes
    page.goto(f"{lab.console}/p/{key}#tables")
    categories = page.locator("#table-category_accounts")
    office = categories.get_by_label("Value of Fournitures de bureau")
    offered = office.locator("option").all_inner_texts()
    assert "606400 · Fournitures administratives" in offered and "613200 · Locations immobilières" in offered
    assert not any("Banque" in o for o in offered), offered  # bank accounts are not expense accounts
    categories.get_by_label("New key").fill("Loyer")
    categories.get_by_label("New value").select_option("613200")
    categories.get_by_role("button", name="Save table category_accounts").click()
    expect()(page.locator(".flash")).to_contain_text("Table category_accounts saved")
    text = lab.profile_file("noel").read_text(encoding="utf-8")
    assert 'tables:\n  category_accounts:\n    add:\n      "Loyer": "613200"' in text, text
    tags = page.locator("#table-tag_classes")
    assert "Conseil" in tags.get_by_label("New value").locator("option").all_inner_texts()
    shot(page, "tables")
