"""The :class:`Sandbox`: one object holding every realm and service, with a Python API that the HTTP
layer, batch items, fixtures and tests all share.

Every public method takes the store lock, so a test thread may read or load data while a served
sandbox answers requests on its own thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.sandbox import operations
from connectors.sandbox.batch import run_batch
from connectors.sandbox.cdc import change_data_capture
from connectors.sandbox.config import SandboxConfig, WebhookTarget
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.limits import Limits
from connectors.sandbox.load import RealmLoad
from connectors.sandbox.oauth import OAuthServer, TokenSet
from connectors.sandbox.operations import Change, Operation, WriteContext
from connectors.sandbox.presets import PRESETS, build_realm
from connectors.sandbox.query_exec import run_query
from connectors.sandbox.store import RealmState, Store
from connectors.sandbox.timefmt import envelope_time
from connectors.sandbox.webhooks import Sender, WebhookDispatcher

__all__ = ["Sandbox"]

Listener = Callable[[list[Change]], None]


class Sandbox:
    """All the state of one sandbox server: realms, tokens, throttles, fault scripts and webhooks."""

    def __init__(self, config: SandboxConfig | None = None, *, webhook_sender: Sender | None = None) -> None:
        self.config = config or SandboxConfig()
        self.clock = self.config.clock
        self.store = Store(self.config.data_dir)
        self.oauth = OAuthServer(self.config, self.clock)
        self.faults = FaultInjector(self.config.fault_rate, self.config.seed)
        self.limits = Limits(self.clock, self.config.requests_per_minute, self.config.batches_per_minute,
                             self.config.max_concurrent)
        self.webhooks = WebhookDispatcher(self.config.webhooks, self.config.webhook_token,
                                          self.config.webhook_retry_delays, webhook_sender)
        self._listeners: list[Listener] = [self.webhooks.publish]
        self.file_secret = secrets.token_bytes(32)  # signs the temporary download URLs of attachments
        for spec in self.config.realms:
            self.add_realm(spec.realm_id, spec.preset)

    # -- realms ----------------------------------------------------------------------------------
    def add_realm(self, realm_id: str, preset: str = "fr") -> RealmState:
        """Create a company from a preset, or reload it from the data directory if it was saved there."""
        with self.store.lock:
            existing = self.store.realm(realm_id) or self.store.load(realm_id)
            if existing is not None:
                return existing
            realm = self.store.add(build_realm(realm_id, preset, self.now()))
        samples = PRESETS[preset]().samples
        if samples:
            self.load_fixtures(realm_id, samples)
        return realm

    def realm(self, realm_id: str | None = None) -> RealmState:
        """A realm's live state (for assertions); the first configured realm by default."""
        key = realm_id or self.default_realm_id
        state = self.store.realm(key)
        if state is None:
            raise KeyError(f"no realm {key}")
        return state

    @property
    def default_realm_id(self) -> str:
        return next(iter(self.store.realms))

    @property
    def realm_ids(self) -> tuple[str, ...]:
        return tuple(self.store.realms)

    def now(self) -> datetime:
        return self.clock.now()

    def time(self, realm_id: str | None = None) -> str:
        """The envelope ``time`` for a realm."""
        state = self.store.realm(realm_id or "") if realm_id else None
        return envelope_time(self.now(), state.timezone if state else "UTC")

    # -- load -------------------------------------------------------------------------------------
    def load_report(self) -> dict[str, dict[str, Any]]:
        """Per realm: peak in-flight requests, peak requests and batch calls in any sliding minute, totals and
        throttled (refused) requests, since the start or the last :meth:`reset_load`. Every realm is listed."""
        return self._every_realm(self.limits.load_report())

    def reset_load(self) -> dict[str, dict[str, Any]]:
        """Zero the load figures (not the throttles); returns them as they were."""
        return self._every_realm(self.limits.reset_load())

    def _every_realm(self, figures: Mapping[str, RealmLoad]) -> dict[str, dict[str, Any]]:
        return {realm_id: figures.get(realm_id, RealmLoad()).as_json()
                for realm_id in dict.fromkeys((*self.realm_ids, *figures))}

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(self, realm_id: str | None = None) -> TokenSet:
        """A fresh access/refresh token pair for a realm, without the browser flow."""
        return self.oauth.issue(realm_id or self.default_realm_id)

    # -- data ------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with the changes of every committed request."""
        self._listeners.append(listener)

    def _commit(self, realm_id: str, changes: list[Change]) -> None:
        self.store.save(realm_id)
        if changes:
            for listener in self._listeners:
                listener(list(changes))

    def write(self, realm_id: str, entity: str, body: Mapping[str, Any], operation: Operation | None = None,
              *, allow_duplicate_docnum: bool = False, seeding: bool = False) -> dict[str, Any]:
        """Create/update/delete/void one entity with QBO's rules; raises :class:`QboError` on a fault.
        ``seeding`` (fixtures) also creates entities the API only reads, such as Budget."""
        with self.store.lock:
            ctx = WriteContext(self.realm(realm_id), self.now(), allow_duplicate_docnum, seeding=seeding)
            result = operations.write(ctx, entity, dict(body), operation)
            self._commit(realm_id, ctx.changes)
            return result

    def read(self, realm_id: str, entity: str, entity_id: str) -> dict[str, Any]:
        with self.store.lock:
            return operations.read(self.realm(realm_id), entity, entity_id)

    def query(self, realm_id: str, text: str) -> dict[str, Any]:
        """The ``QueryResponse`` object for one query."""
        with self.store.lock:
            return run_query(self.realm(realm_id), text, self.now())

    def cdc(self, realm_id: str, entities: str, changed_since: str) -> dict[str, Any]:
        with self.store.lock:
            return change_data_capture(self.realm(realm_id), entities, changed_since, self.now())

    def batch(self, realm_id: str, body: Any, request_id: str | None = None,
              *, allow_duplicate_docnum: bool = False) -> dict[str, Any]:
        """Run a batch request body; each item is applied (and faults) independently."""
        with self.store.lock:
            ctx = WriteContext(self.realm(realm_id), self.now(), allow_duplicate_docnum)

            def write(entity: str, item: Any, operation: Operation) -> dict[str, Any]:
                return operations.write(ctx, entity, item, operation)

            def query(text: str) -> dict[str, Any]:
                return run_query(ctx.realm, text, ctx.now)

            result = run_batch(body, write, query, request_id)
            self._commit(realm_id, ctx.changes)
            return result

    def load_fixtures(self, realm_id: str | None, fixtures: Mapping[str, Iterable[Mapping[str, Any]]]
                      ) -> dict[str, list[dict[str, Any]]]:
        """Create records through the normal rules, entity by entity in the given order; returns them."""
        key = realm_id or self.default_realm_id
        created: dict[str, list[dict[str, Any]]] = {}
        for entity, rows in fixtures.items():
            created[entity] = [self.write(key, entity, row, "create", allow_duplicate_docnum=True, seeding=True)
                               for row in rows]
        return created

    def attach(self, realm_id: str, metadata: Mapping[str, Any], data: bytes) -> dict[str, Any]:
        """Create an Attachable holding a file (what ``POST /upload`` does for each file)."""
        with self.store.lock:
            created = self.write(realm_id, "Attachable", metadata, "create")
            realm = self.realm(realm_id)
            row = realm.table("Attachable")[created["Id"]]
            row["Size"] = len(data)
            row["FileAccessUri"] = f"/v3/company/{realm_id}/download/{created['Id']}"
            realm.files[created["Id"]] = data
            self.store.save(realm_id)
            return operations.render(row)

    def add_webhook(self, target: WebhookTarget) -> None:
        self.webhooks.add_target(target)

    def close(self) -> None:
        self.webhooks.close()
