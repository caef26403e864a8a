"""``passerelle connect PROFILE``: the OAuth 2.0 authorisation-code flow with a local redirect listener.

1. A listener starts on ``http://127.0.0.1:PORT/callback`` (``--port``; 0 picks a free one — with Intuit,
   use a fixed port and register that redirect URI in the app's settings).
2. A random ``state`` goes into the authorisation URL; the callback must bring it back unchanged
   (compared in constant time), else the code is refused.
3. Against a Passerelle sandbox the command follows the authorisation URL itself (the sandbox approves
   at once); against Intuit it opens the browser (or prints the URL with ``--no-browser``).
4. The code is exchanged for tokens, which are stored encrypted (``PASSERELLE_SECRET_KEY``) in the state
   store. Reconnecting replaces only the tokens: the ledger, cursors and error history stay.
5. A profile that has synced keeps its company: approving a different company is refused (the ledger's
   QBO ids mean nothing there) unless ``--new-company`` says to start a fresh ledger for it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import urllib.request
import webbrowser
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import httpx

from connectors.qbo.faults import QboFault, local_fault
from connectors.qbo.oauth import OAuthClient, discover_endpoints
from connectors.qbo.profile import app_credentials, qbo_connection
from connectors.qbo.tokens import SECRET_KEY_ENV, SecretBox, TokenStore
from engine.errors import PasserelleError
from engine.runtime.realm import different_company, start_fresh_ledger
from engine.store import open_store

__all__ = ["Callback", "CallbackListener", "connect", "run_connect"]

_PAGE = (b"<!doctype html><title>Passerelle</title><p>QuickBooks is connected to Passerelle. "
         b"You can close this window.</p>")


@dataclass(frozen=True)
class Callback:
    """What the authorisation server sent back to the redirect URI."""

    params: dict[str, str]

    def get(self, name: str) -> str:
        return self.params.get(name, "")


class CallbackListener:
    """A one-shot HTTP server on the loopback interface that waits for ``/callback?code=…&state=…``."""

    def __init__(self, port: int = 0) -> None:
        received: list[Callback] = []
        event = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback":
                    self.send_error(404)
                    return
                params = {key: values[0] for key, values in parse_qs(parts.query).items()}
                received.append(Callback(params))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(_PAGE)
                event.set()

            def log_message(self, format: str, *args: Any) -> None:  # the query string holds the code
                return

        self._received = received
        self._event = event
        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-callback", daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> Callback | None:
        return self._received[0] if self._event.wait(timeout) else None

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _auto_approve(http: httpx.Client, url: str, redirect_uri: str) -> bool:
    """Follow the authorisation URL ourselves; True when the server redirected straight back to us."""
    try:
        response = http.get(url, follow_redirects=False)
    except httpx.HTTPError:
        return False
    location = response.headers.get("location", "")
    if response.status_code not in (301, 302, 303, 307) or not location.startswith(redirect_uri):
        return False
    with urllib.request.urlopen(location, timeout=10):  # not through httpx: its log line would show the code
        return True


def run_connect(spec: str, *, port: int = 0, browser: bool = True, timeout: float = 300.0,
                transport: httpx.BaseTransport | None = None, echo: Any = click.echo, new_company: bool = False) -> str:
    """Connect a profile; returns the realm id. Raises QboFault or PasserelleError with a clear message.

    ``new_company``: the user agrees that a company other than the ledger's starts a fresh ledger."""
    from engine.pipeline import find_profile, run_pipeline

    loaded = run_pipeline(find_profile(spec))
    connection = qbo_connection(loaded.resolved)
    box = SecretBox.from_env(create=True)  # fail before the user goes through the browser
    if box.created:
        echo(f"No {SECRET_KEY_ENV} set: generated a key to encrypt the QBO tokens and kept it in {box.source} "
             f"(readable by you only). Back it up; {SECRET_KEY_ENV}, when set, is used instead.")
    state_store = open_store()
    store = TokenStore(state_store, box)
    with httpx.Client(transport=transport, timeout=30) as http, CallbackListener(port) as listener:
        oauth = OAuthClient(http, discover_endpoints(http, connection.base_url),
                            app_credentials(connection, listener.redirect_uri))
        state = secrets.token_urlsafe(32)
        url = oauth.authorize_url(state)
        if not (connection.may_auto_approve and _auto_approve(http, url, listener.redirect_uri)):
            echo(f"Open this address to authorise Passerelle in QuickBooks:\n  {url}")
            if browser:
                webbrowser.open(url)
        callback = listener.wait(timeout)
    if callback is None:
        raise QboFault(local_fault("timeout", f"no answer from QuickBooks within {timeout:.0f} s"))
    if not hmac.compare_digest(callback.get("state"), state):
        raise QboFault(local_fault("configuration", "the authorisation came back with a wrong state; refused "
                                                    "(start `passerelle connect` again)"))
    if callback.get("error"):
        raise QboFault(local_fault("authorization", f"QuickBooks refused the authorisation: {callback.get('error')}"))
    realm_id = callback.get("realmId") or connection.realm_id or ""
    if not callback.get("code") or not realm_id:
        raise QboFault(local_fault("configuration", "the authorisation came back without a code or a company id"))
    other = different_company(state_store, connection.profile, realm_id)
    if other is not None and not new_company:
        raise PasserelleError([other])
    with httpx.Client(transport=transport, timeout=30) as http:
        oauth = OAuthClient(http, discover_endpoints(http, connection.base_url),
                            app_credentials(connection, listener.redirect_uri))
        grant = oauth.exchange_code(callback.get("code"), connection.profile)
    if other is not None:
        removed = start_fresh_ledger(state_store, connection.profile, realm_id)
        echo(f"Started a fresh ledger for company {realm_id}: {removed} entries of the previous company forgotten.")
    store.connect(connection.profile, realm_id, grant, datetime.now(UTC))
    echo(f"Connected {connection.profile} to QuickBooks company {realm_id}; tokens are stored encrypted.")
    return realm_id


@click.command("connect")
@click.argument("profile")
@click.option("--port", default=0, show_default=True, type=int,
              help="Port of the local redirect listener (0: any free port; Intuit needs the registered one).")
@click.option("--no-browser", is_flag=True, help="Print the authorisation URL instead of opening a browser.")
@click.option("--timeout", default=300.0, show_default=True, type=float, help="Seconds to wait for the approval.")
@click.option("--new-company", is_flag=True,
              help="The profile has synced with another company: forget its ledger and start afresh with this one.")
def connect(profile: str, port: int, no_browser: bool, timeout: float, new_company: bool) -> None:
    """Authorise Passerelle to use a QuickBooks Online company (OAuth 2.0)."""
    try:
        run_connect(profile, port=port, browser=not no_browser, timeout=timeout, new_company=new_company)
    except PasserelleError as error:
        for item in error.errors:
            click.echo(item.format(), err=True)
        raise SystemExit(1) from None
    except QboFault as error:
        fault = error.fault
        click.echo(f"error: {fault.message}\n  hint: {fault.hint}", err=True)
        raise SystemExit(1) from None
