"""Tokens at rest and their refresh: encryption, expiry mid-run, 401, rotation, two processes, invalid_grant."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from connectors.qbo.auth import BearerAuth
from connectors.qbo.client import QboClient
from connectors.qbo.faults import FaultClass, QboFault, ReconnectRequired
from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.oauth import AppCredentials, OAuthClient, OAuthTokens, discover_endpoints
from connectors.qbo.tokens import SECRET_KEY_ENV, SecretBox, TokenGrant, TokenStore
from connectors.sandbox import ManualClock, Sandbox
from engine.store import Store, open_store
from engine.store.tables import connections, cursors, ledger
from tests.connectors.qbo.conftest import FakeTime, make_settings
from tests.connectors.qbo.helpers import FR

PROFILE = "pack/customer"


@pytest.fixture
def sandbox_overrides() -> dict[str, Any]:
    return {"token_ttl": 5.0, "refresh_grace": 30.0}


class CountingTransport(httpx.BaseTransport):
    """Counts calls to the token endpoint."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.token_calls = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):
            with self._lock:
                self.token_calls += 1
        return self.inner.handle_request(request)


@pytest.fixture
def transport(app: Any) -> Iterator[CountingTransport]:
    bridge = AsgiBridge(app)
    yield CountingTransport(bridge)
    bridge.close()


@pytest.fixture
def oauth_http(transport: CountingTransport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=transport, base_url="http://sandbox.test") as client:
        yield client


@pytest.fixture
def state(tmp_path: Path) -> Store:
    return open_store(str(tmp_path / "state.db"))


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def box(key: str) -> SecretBox:
    return SecretBox(key)


@pytest.fixture
def tokens(state: Store, box: SecretBox, sandbox: Sandbox, clock: ManualClock) -> TokenStore:
    store = TokenStore(state, box)
    issued = sandbox.issue_token(FR)
    store.connect(PROFILE, FR, TokenGrant(issued.access_token, issued.refresh_token, issued.expires_in,
                                          issued.refresh_expires_in), clock.now())
    return store


@dataclass
class Rig:
    tokens: TokenStore
    oauth_http: httpx.Client
    http: httpx.Client
    clock: ManualClock
    fake_time: FakeTime
    transport: CountingTransport
    sandbox: Sandbox

    def source(self, **kw: Any) -> OAuthTokens:
        return _source(self.tokens, self.oauth_http, self.clock, **kw)

    def client(self, source: OAuthTokens | None = None) -> QboClient:
        return _client(self.http, source or self.source(), self.fake_time)


@pytest.fixture
def rig(tokens: TokenStore, oauth_http: httpx.Client, http: httpx.Client, clock: ManualClock,  # noqa: PLR0917
        fake_time: FakeTime, transport: CountingTransport, sandbox: Sandbox) -> Rig:
    return Rig(tokens, oauth_http, http, clock, fake_time, transport, sandbox)


def _oauth(http: httpx.Client) -> OAuthClient:
    return OAuthClient(http, discover_endpoints(http, "http://sandbox.test"),
                       AppCredentials("sandbox-client-id", "sandbox-client-secret"))


def _source(tokens: TokenStore, http: httpx.Client, clock: ManualClock, **kw: Any) -> OAuthTokens:
    return OAuthTokens(PROFILE, tokens, _oauth(http), clock=clock.now, margin=1.0, **kw)


def _client(http: httpx.Client, source: OAuthTokens, fake_time: FakeTime) -> QboClient:
    return QboClient(http, make_settings(fake_time), auth=BearerAuth(source))


def test_tokens_are_encrypted_at_rest(tokens: TokenStore, state: Store) -> None:
    row = tokens.load(PROFILE)
    assert row is not None and row.access_token.startswith("sbx-at-")
    with state.engine.connect() as conn:
        raw = conn.execute(sa.select(connections)).mappings().one()
    for column in ("access_token", "refresh_token"):
        assert b"sbx-" not in bytes(raw[column])
    assert "sbx-" not in repr(row)


def test_secret_key_missing_or_wrong_is_a_clear_error(tokens: TokenStore, state: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .passerelle/secret.key here
    with pytest.raises(QboFault) as missing:
        SecretBox.from_env({})
    assert SECRET_KEY_ENV in str(missing.value) and "Fernet.generate_key" in str(missing.value)
    with pytest.raises(QboFault):
        SecretBox("not a key")
    other = TokenStore(state, SecretBox(Fernet.generate_key().decode()))
    with pytest.raises(QboFault) as wrong:
        other.load(PROFILE)
    assert "cannot be decrypted" in str(wrong.value)


def test_old_key_after_new_one_still_decrypts(tokens: TokenStore, state: Store, key: str) -> None:
    rotated = TokenStore(state, SecretBox(f"{Fernet.generate_key().decode()},{key}"))
    row = rotated.load(PROFILE)
    assert row is not None and row.access_token.startswith("sbx-at-")


def test_expired_token_mid_run_is_refreshed_ahead(rig: Rig) -> None:
    tokens, clock, transport = rig.tokens, rig.clock, rig.transport
    qbo = rig.client()
    before = tokens.load(PROFILE)
    assert before is not None
    assert qbo.get("Customer", "52")["Id"] == "52"
    clock.advance(6)  # past the 5 s token lifetime
    assert qbo.get("Customer", "52")["Id"] == "52"
    after = tokens.load(PROFILE)
    assert after is not None and transport.token_calls == 1
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    assert after.previous_refresh_token == before.refresh_token and after.version == before.version + 1


def test_401_with_a_token_we_believed_valid_refreshes_and_resends(rig: Rig) -> None:
    rig.tokens.expire_access(PROFILE, rig.clock.now() + timedelta(hours=1))  # our clock is wrong: skew
    source = rig.source()
    qbo = rig.client(source)
    rig.clock.advance(10)
    assert qbo.get("Customer", "52")["Id"] == "52"
    assert source.refreshes == 1


def test_many_threads_one_refresh(rig: Rig) -> None:
    qbo = rig.client()
    rig.clock.advance(6)
    threads = [threading.Thread(target=qbo.get, args=("Customer", "52")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert rig.transport.token_calls == 1


def test_two_processes_refreshing_at_once_call_the_token_endpoint_once(rig: Rig, state: Store, box: SecretBox) -> None:
    """Two token managers with their own locks and store handles: like two processes on one database."""
    tokens, oauth_http, clock, transport = rig.tokens, rig.oauth_http, rig.clock, rig.transport
    rejected = tokens.load(PROFILE)
    assert rejected is not None
    second_store = TokenStore(open_store(state.url.removeprefix("sqlite:///")), box)
    managers = [_source(tokens, oauth_http, clock, poll=0.01), _source(second_store, oauth_http, clock, poll=0.01)]
    barrier = threading.Barrier(2)
    got: list[str] = []

    def run(manager: OAuthTokens) -> None:
        barrier.wait()
        got.append(manager.refresh(rejected.access_token))

    threads = [threading.Thread(target=run, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert transport.token_calls == 1 and len(set(got)) == 1
    row = tokens.load(PROFILE)
    assert row is not None and row.access_token == got[0] and row.version == rejected.version + 1
    assert row.lease_owner is None


def test_a_rotation_by_another_process_is_picked_up_without_refreshing(
        tokens: TokenStore, oauth_http: httpx.Client, clock: ManualClock, transport: CountingTransport) -> None:
    stale = tokens.load(PROFILE)
    assert stale is not None
    other = _source(tokens, oauth_http, clock)
    fresh = other.refresh(stale.access_token)
    mine = _source(tokens, oauth_http, clock)
    assert mine.refresh(stale.access_token) == fresh
    assert transport.token_calls == 1 and mine.refreshes == 0


def test_a_lease_left_by_a_dead_process_lapses(tokens: TokenStore, oauth_http: httpx.Client,
                                               clock: ManualClock) -> None:
    row = tokens.load(PROFILE)
    assert row is not None
    assert tokens.take_lease(PROFILE, "dead-process", row.version, clock.now(), 30)
    source = _source(tokens, oauth_http, clock, poll=5.0, sleep=clock.advance)
    assert source.refresh(row.access_token) != row.access_token
    assert source.refreshes == 1


def test_previous_refresh_token_saves_a_lost_rotation(tokens: TokenStore, box: SecretBox, state: Store,
                                                      oauth_http: httpx.Client, clock: ManualClock) -> None:
    good = tokens.load(PROFILE)
    assert good is not None
    with state.engine.begin() as conn:  # the stored refresh token is one QBO never took; the used one is kept
        conn.execute(sa.update(connections).values(refresh_token=box.encrypt("sbx-rt-lost"),
                                                   previous_refresh_token=box.encrypt(good.refresh_token)))
    source = _source(tokens, oauth_http, clock)
    assert source.refresh(good.access_token) != good.access_token
    assert source.refreshes == 2


def test_invalid_grant_asks_to_reconnect(rig: Rig) -> None:
    row = rig.tokens.load(PROFILE)
    assert row is not None
    rig.sandbox.oauth.revoke(row.refresh_token, AppCredentials("sandbox-client-id", "sandbox-client-secret").basic())
    qbo = rig.client()
    rig.clock.advance(6)
    with pytest.raises(ReconnectRequired) as caught:
        qbo.get("Customer", "52")
    fault = caught.value.fault
    assert fault.kind == "reconnect" and fault.fault_class is FaultClass.CONFIG and not fault.resync_may_fix
    assert "invalid_grant" in fault.message and f"passerelle connect {PROFILE}" in fault.hint


def test_not_connected_is_a_reconnect_fault(state: Store, box: SecretBox, oauth_http: httpx.Client,
                                            clock: ManualClock) -> None:
    source = OAuthTokens("nobody/here", TokenStore(state, box), _oauth(oauth_http), clock=clock.now)
    with pytest.raises(ReconnectRequired):
        source.access_token()


def test_reconnecting_keeps_the_sync_state(tokens: TokenStore, state: Store, sandbox: Sandbox,
                                           clock: ManualClock) -> None:
    now = clock.now()
    with state.engine.begin() as conn:
        conn.execute(sa.insert(ledger).values(profile=PROFILE, flow="inv", source_key="1", target_entity="Invoice",
                                              target_id="9", updated_at=now))
        conn.execute(sa.insert(cursors).values(profile=PROFILE, name="invoices", value="2025-01-01", updated_at=now))
    before = tokens.load(PROFILE)
    issued = sandbox.issue_token(FR)
    tokens.connect(PROFILE, FR, TokenGrant(issued.access_token, issued.refresh_token), now)
    after = tokens.load(PROFILE)
    assert before is not None and after is not None
    assert after.version == before.version + 1 and after.access_token == issued.access_token
    assert after.previous_refresh_token is None
    with state.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar_one() == 1
        assert conn.execute(sa.select(cursors.c.value)).scalar_one() == "2025-01-01"
