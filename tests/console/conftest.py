"""A console lab: a French sandbox company served over HTTP (no fixed token: profiles are connected by OAuth
from the console), a deployment of an Ogustine and a Pleo profile reading their product data from the packs'
files, and ``passerelle run``'s app (service + console) served over real loopback HTTP in this process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, Sandbox, SandboxConfig, create_app, sandbox_of, serve
from engine.fleet.app import create_app as create_service_app
from engine.fleet.service import Service, ServiceOptions
from engine.store import Store, open_store
from tests.fakes.server import serve_app

ROOT = Path(__file__).resolve().parents[2]
REALM = DEFAULT_REALM_IDS["fr"]
ADMIN_TOKEN = "console-admin-token-for-tests"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "console"

OGUSTINE = f"""# The Ogustine demo over files, for the console tests.
passerelle: 1
kind: profile
profile: {{name: lyon, description: Ogustine demo company (files)}}
pack: {ROOT / "rules" / "ogustine"}
settings:
  start_date: "2025-01-01"   # "sync invoices created since"
connections:
  product:
    connector: file
    resources:
      invoices: {{path: {ROOT / "rules/ogustine/data/invoices.json"}}}
      credit_notes: {{path: {ROOT / "rules/ogustine/data/credit_notes.json"}}}
      customers: {{path: {ROOT / "rules/ogustine/data/customers.json"}}}
      services: {{path: {ROOT / "rules/ogustine/data/services.json"}}}
"""

PLEO = f"""# The Pleo demo over files, for the console tests.
passerelle: 1
kind: profile
profile: {{name: noel, description: Pleo demo company (files)}}
pack: {ROOT / "rules" / "pleo"}
settings:
  publish_lists: false
  start_date: "2024-01-01"
connections:
  pleo:
    connector: file
    resources:
      expenses: {{path: {ROOT / "rules/pleo/data/expenses.json"}}}
      categories: {{path: {ROOT / "rules/pleo/data/categories.json"}}}
      tags: {{path: {ROOT / "rules/pleo/data/tags.json"}}}
      tax_codes: {{path: {ROOT / "rules/pleo/data/tax_codes.json"}}}
"""


@dataclass
class ConsoleLab:
    url: str
    sandbox: Sandbox
    service: Service
    store: Store
    folder: Path

    @property
    def console(self) -> str:
        return f"{self.url}/console"

    def profile_file(self, name: str) -> Path:
        return self.folder / f"{name}.yaml"

    def set_tax_codes_active(self, active: bool) -> None:
        with self.sandbox.store.lock:
            for row in self.sandbox.realm(REALM).table("TaxCode").values():
                row["Active"] = active

    def query(self, entity: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sandbox.query(REALM, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, [])
        return rows


@pytest.fixture
def console_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleLab]:
    forget_limiters()
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "lyon.yaml").write_text(OGUSTINE, encoding="utf-8")
    (folder / "noel.yaml").write_text(PLEO, encoding="utf-8")
    app = create_app(SandboxConfig(realms=(RealmSpec(REALM, "fr"),)))
    sandbox = sandbox_of(app)
    state = tmp_path / "state.db"
    with serve(app) as qbo_url:
        for name, value in {"PASSERELLE_QBO_BASE_URL": qbo_url, "PASSERELLE_STATE": str(state),
                            "PASSERELLE_SECRET_KEY": Fernet.generate_key().decode(),
                            "PASSERELLE_ADMIN_TOKEN": ADMIN_TOKEN}.items():
            monkeypatch.setenv(name, value)
        for name in ("PASSERELLE_QBO_ACCESS_TOKEN", "PASSERELLE_QBO_REALM", "PASSERELLE_CONSOLE_PASSWORD",
                     "PASSERELLE_CONSOLE_SECRET"):
            monkeypatch.delenv(name, raising=False)
        store = open_store(str(state))
        service = Service(store, [folder], ServiceOptions(workers=2, tick_every=3600, rescan_every=3600,
                                                          retry_delay=0))
        service.start()  # what the app's lifespan does under `passerelle run`
        try:
            with serve_app(create_service_app(service)) as url:
                yield ConsoleLab(url, sandbox, service, store, folder)
        finally:
            service.stop()
            store.dispose()
            sandbox.close()
            forget_limiters()


def chromium_or_skip() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (scripts/test installs Debian's chromium package)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the browser tests (Debian's, never a downloaded one). Module-scoped: while
    Playwright's sync API is open its event loop runs on the main thread, and the tests that run after this
    module in the same process (anything calling asyncio.run) need that thread free again."""
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, console_lab: ConsoleLab) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Any, name: str) -> None:
    """A screenshot of the page as a person sees it. Taken every run (it renders the whole page); kept under
    docs/console/ (shown in the README) only with PASSERELLE_SCREENSHOTS=1, so a test run leaves the tree as
    it found it."""
    keep = os.environ.get("PASSERELLE_SCREENSHOTS") == "1"
    folder = SHOTS if keep else Path(tempfile.gettempdir()) / "passerelle-console-shots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


