"""Many writes from several threads under random faults (15 %) and 5-second tokens: never a duplicate."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from connectors.qbo.auth import BearerAuth
from connectors.qbo.client import QboClient
from connectors.qbo.config import LimitSpec
from connectors.qbo.limiter import RateLimiter
from connectors.qbo.oauth import AppCredentials, OAuthClient, OAuthTokens, discover_endpoints
from connectors.qbo.tokens import SecretBox, TokenGrant, TokenStore
from connectors.qbo.writes import WriteRequest
from connectors.sandbox import ManualClock, Sandbox
from engine.store import open_store
from tests.connectors.qbo.conftest import FakeTime, make_settings
from tests.connectors.qbo.helpers import FR, fr_invoice


@pytest.fixture
def sandbox_overrides() -> dict[str, Any]:
    return {"fault_rate": 0.15, "seed": 11, "token_ttl": 5.0, "static_tokens": ()}


def test_concurrent_writes_under_faults_and_token_expiry(http: httpx.Client, sandbox: Sandbox, clock: ManualClock,
                                                         fake_time: FakeTime, tmp_path: Path) -> None:
    tokens = TokenStore(open_store(str(tmp_path / "state.db")), SecretBox(Fernet.generate_key().decode()))
    issued = sandbox.issue_token(FR)
    tokens.connect("soak", FR, TokenGrant(issued.access_token, issued.refresh_token, issued.expires_in), clock.now())
    oauth = OAuthClient(http, discover_endpoints(http, "http://sandbox.test"),
                        AppCredentials("sandbox-client-id", "sandbox-client-secret"))
    source = OAuthTokens("soak", tokens, oauth, clock=clock.now, margin=1.0, poll=0.001)

    record = fake_time.sleep

    def sleep(seconds: float) -> None:  # backoff moves the sandbox clock too: tokens expire during the run
        record(seconds)
        clock.advance(seconds)

    fake_time.sleep = sleep  # type: ignore[method-assign]
    qbo = QboClient(http, make_settings(fake_time, profile="soak", max_attempts=8), auth=BearerAuth(source),
                    limiter=RateLimiter(LimitSpec(), monotonic=fake_time.monotonic, sleep=sleep))
    singles = [WriteRequest("Invoice", "create", fr_invoice(f"S-{i:03}"), flow="inv", source_key=f"s{i}")
               for i in range(40)]
    batched = [WriteRequest("Customer", "create", {"DisplayName": f"Soak {i:03}"}, flow="cust", source_key=f"c{i}",
                            match={"DisplayName": f"Soak {i:03}"}) for i in range(60)]
    def write(req: WriteRequest) -> Any:
        clock.advance(0.5)  # time passes between writes: the 5 s tokens expire several times
        return qbo.write(req)

    with ThreadPoolExecutor(max_workers=6) as pool:
        single_results = list(pool.map(write, singles))
        batch_results = [r for chunk in pool.map(qbo.batch, [batched[:30], batched[30:]]) for r in chunk]
    injected = len(sandbox.faults.history)
    assert injected >= 10  # faults really happened
    assert source.refreshes >= 3  # and tokens really expired mid-run
    docs = Counter(row["DocNumber"] for row in sandbox.query(FR, "select * from Invoice maxresults 1000")["Invoice"]
                   if str(row.get("DocNumber", "")).startswith("S-"))
    names = Counter(row["DisplayName"] for row in sandbox.query(FR, "select * from Customer maxresults 1000")
                    ["Customer"] if str(row["DisplayName"]).startswith("Soak "))
    assert max(docs.values()) == 1 and max(names.values()) == 1  # never a duplicate
    done = [r for r in single_results + batch_results if r.ok]
    assert len(done) >= 95  # uncertain ones (if any) are settled by a resync's replay
    assert len(docs) >= sum(1 for r in single_results if r.ok)
    assert len(names) >= sum(1 for r in batch_results if r.ok)
