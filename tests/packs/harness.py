"""End-to-end harness for rule packs: the real runtime (plan, checks, apply) against the in-process
QBO sandbox and product fakes served in-process, as `passerelle sync` would run it.

    with pack_run(profile_path, products={"product": FakeProduct(spec)}) as run:
        plan, report = run.sync()
        run.sandbox.query(run.realm, "SELECT * FROM Invoice")
        run.products["product"].writes

Product fakes are keyed by the name of the connection they stand for; set the profile's secret
environment variables with ``env=``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.limiter import forget_limiters
from connectors.sandbox import DEFAULT_REALM_IDS, RealmSpec, Sandbox, SandboxConfig, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN
from engine.cli.session import Session, open_session
from engine.runtime.apply import ApplyReport, apply_plan
from engine.runtime.checks import CheckResult, run_checks
from engine.runtime.plan import Plan
from engine.store import Store, open_store

__all__ = ["PackRun", "pack_run"]

REALM = DEFAULT_REALM_IDS["fr"]


@dataclass
class PackRun:
    session: Session
    sandbox: Sandbox
    store: Store
    products: Mapping[str, Any] = field(default_factory=dict)
    realm: str = REALM

    def plan(self, *, record: str | None = None, manual: bool = False) -> Plan:
        return self.session.plan(record=record, manual=manual)

    def apply(self, plan: Plan) -> ApplyReport:
        report = apply_plan(plan, self.session.target, self.store, writers=self.session.writers,
                            attacher=self.session.target, fetcher=self.session.fetcher)
        if report.ok:
            self.session.commit_cursors()
        return report

    def sync(self, *, record: str | None = None) -> tuple[Plan, ApplyReport]:
        plan = self.plan(record=record)
        return plan, self.apply(plan)

    def checks(self) -> list[CheckResult]:
        return run_checks(self.session.loaded.compiled, self.session.target)

    def query(self, entity: str, where: str = "") -> list[dict[str, Any]]:
        text = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "") + " MAXRESULTS 1000"
        return list(self.sandbox.query(self.realm, text).get(entity, []))


@contextmanager
def pack_run(profile: Path | str, *, products: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
             store_path: Path | None = None, preset: str = "fr", config: Mapping[str, Any] | None = None,
             private_hosts: tuple[str, ...] = ()) -> Iterator[PackRun]:
    """A sandbox company (FR preset by default), product fakes by connection name, and a session on ``profile``;
    ``private_hosts`` (e.g. ``127.0.0.1``) allows attachments from the test's own loopback servers."""
    forget_limiters()
    realm = DEFAULT_REALM_IDS[preset]
    app = create_app(SandboxConfig(realms=(RealmSpec(realm, preset),), static_tokens=(TEST_TOKEN,), **(config or {})))
    sandbox = sandbox_of(app)
    store = open_store(str(store_path) if store_path else "sqlite://")
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    with ExitStack() as stack:
        bridge = AsgiBridge(app)
        stack.callback(bridge.close)
        transports = {host: AsgiBridge(getattr(fake, "app", fake)) for host, fake in (products or {}).items()}
        for transport in transports.values():
            stack.callback(transport.close)
        try:
            with open_session(str(profile), store=store, transport=bridge, token=TEST_TOKEN, realm=realm,
                              product_transports=transports, private_hosts=private_hosts) as session:
                yield PackRun(session, sandbox, store, dict(products or {}), realm)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            sandbox.close()
            forget_limiters()
