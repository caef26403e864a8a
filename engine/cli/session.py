"""What every run command needs: the compiled profile, the store, the QBO target and the sources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connectors.fetch import FileFetcher, HostPolicy
from connectors.product_writer import writers_for
from connectors.qbo_session import open_qbo
from connectors.qbo_target import QboSource, QboTarget
from connectors.sources import sources_for_pack
from engine.errors import PasserelleError, RuleError
from engine.pipeline import Loaded, find_profile, run_pipeline
from engine.runtime.ledger import StoreLedger
from engine.runtime.plan import Plan, PlanOptions, ProgressCallback, make_plan
from engine.runtime.suspension import suspended_until
from engine.store import Store, open_store
from engine.validate import did_you_mean

__all__ = ["Session", "open_session"]


@dataclass
class Session:
    loaded: Loaded
    store: Store
    target: QboTarget
    sources: dict[str, Any]
    last_full_run: bool = False
    private_hosts: tuple[str, ...] = ()  # more hosts that may be on private addresses (tests' local servers)

    @property
    def profile(self) -> str:
        return self.loaded.profile.name if self.loaded.profile else self.loaded.pack.meta.name

    @property
    def key(self) -> str:
        """The profile's key in the state store (``pack/profile``)."""
        return self.loaded.resolved.key

    @property
    def fetcher(self) -> FileFetcher:
        """Where attachment files come from: product URLs on allowed hosts, or paths relative to the pack."""
        resolved = self.loaded.resolved
        policy = HostPolicy.of(resolved.allowed_hosts, (*resolved.private_hosts, *self.private_hosts))
        return FileFetcher(self.loaded.pack.root, sources=self.sources, policy=policy)

    @property
    def writers(self) -> dict[str, Any]:
        """Writers of the product connections (write-back flows)."""
        return writers_for(self.sources, self.loaded.resolved.connections)

    def commit_cursors(self) -> None:
        """After a successful full apply, incremental sources remember how far they read. A one-record
        or suspended run handled only part of what was read, so it must not move the cursors."""
        if not self.last_full_run:
            return
        for source in self.sources.values():
            commit = getattr(source, "commit_cursors", None)
            if commit is not None:
                commit()

    def plan(self, *, record: str | None = None, manual: bool = False, launched: bool = False,
             progress: ProgressCallback | None = None) -> Plan:
        today = dt.date.today().isoformat()
        options = PlanOptions(today=today, suspended_until=suspended_until(self.store, self.key, today),
                              record=record, manual=manual or launched or record is not None, launched=launched)
        self.last_full_run = record is None and options.suspended_until is None
        return make_plan(self.loaded, self.target, self.sources, StoreLedger(self.store, self.key), options,
                         progress=progress)

    def check_record(self, key: str, plan: Plan) -> None:
        """``--record KEY`` must name a record: one the plan reached, one in the ledger, or one a flow reads
        (an unchanged record shows in none of the plan's changes). An unknown key is an E805 naming it."""
        if any(change.key == key for change in plan.changes) or not self.loaded.resolved.enabled:
            return
        ledger = StoreLedger(self.store, self.key)
        compiled = self.loaded.compiled
        if any(ledger.get(flow, key) is not None for flow in compiled.flows):
            return
        seen: dict[str, None] = {}
        for flow in compiled.flows.values():
            source = self.sources.get(flow.flow.source.connection)
            if not flow.enabled or source is None:
                continue
            for record in source.records(flow.flow.source.entity):
                scope = {"record": record, "settings": compiled.settings, "vars": {}, "now": dt.date.today().isoformat(),
                         "state": None, "manual": True, "duplicate_of": None}
                try:
                    found = str(flow.key(scope))
                except Exception:  # a key that cannot be computed is reported by the plan itself
                    continue
                if found == key:
                    return
                if len(seen) < 10_000:
                    seen.setdefault(found)
        sample = list(seen)[:10]
        hint = did_you_mean(key, seen) or (f"keys read: {', '.join(sample)}{' ...' if len(seen) > 10 else ''}"
                                           if seen else "no flow read any record")
        raise PasserelleError([RuleError("E805", f"no record with key {key!r} in any flow of {self.key}", None,
                                         hint=hint)])


@contextmanager
def open_session(profile_spec: str, *, store: Store | None = None, read_only: bool = False,
                 product_transports: Mapping[str, Any] | None = None, loaded: Loaded | None = None,
                 private_hosts: tuple[str, ...] = (), **target_options: Any) -> Iterator[Session]:
    """``product_transports`` (host -> httpx transport) lets tests serve product APIs in-process; ``loaded``
    is the profile already compiled (the service compiles each profile once, not once per job);
    ``private_hosts`` lets tests download attachments from their own loopback servers."""
    loaded = loaded or run_pipeline(find_profile(profile_spec))
    store = store or open_store(create=not read_only)
    target = open_qbo(loaded.resolved, store, **target_options)
    sources = sources_for_pack(loaded.resolved, store=store, transports=product_transports)
    sources.update({name: QboSource(target) for name, conn in loaded.resolved.connections.items()
                    if conn.connector == "qbo"})
    try:
        yield Session(loaded, store, target, sources, private_hosts=private_hosts)
    finally:
        target.client.close()
        for source in sources.values():
            close = getattr(source, "close", None)
            if close is not None and source is not target:
                close()
