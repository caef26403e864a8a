"""The companies' data: every entity by type and id, tombstones for CDC, counters, replayable requestids.

The store keeps QBO-shaped dicts (money as Decimal) and knows nothing of QBO rules; the operations
module applies those. With a data directory each realm is written to one JSON file after every
write, so a demo survives a restart.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.sandbox.jsonio import dumps

__all__ = ["RealmState", "ReplayRecord", "Store"]

MAX_REMEMBERED_REQUEST_IDS = 10_000


@dataclass(frozen=True)
class ReplayRecord:
    """The first answer given to a requestid, replayed verbatim to any repeat of the same request."""

    fingerprint: str
    status: int
    body: str
    media_type: str = "application/json"


@dataclass
class RealmState:
    """One company. Mutable on purpose: it is the state the sandbox serves; callers hold the store lock."""

    realm_id: str
    preset: str
    country: str
    timezone: str
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, str]] = field(default_factory=dict)
    last_id: int = 0
    doc_sequences: dict[str, int] = field(default_factory=dict)
    request_ids: OrderedDict[str, ReplayRecord] = field(default_factory=OrderedDict)
    files: dict[str, bytes] = field(default_factory=dict)

    def table(self, entity: str) -> dict[str, dict[str, Any]]:
        return self.entities.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        return self.entities.get(entity, {}).get(str(entity_id))

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        yield from self.entities.get(entity, {}).values()

    def next_id(self) -> str:
        """Ids are unique across entity types, so an id sent for the wrong type never resolves by luck."""
        self.last_id += 1
        return str(self.last_id)

    def remember_request(self, request_id: str, record: ReplayRecord) -> None:
        self.request_ids[request_id] = record
        while len(self.request_ids) > MAX_REMEMBERED_REQUEST_IDS:
            self.request_ids.popitem(last=False)

    @property
    def preferences(self) -> dict[str, Any]:
        return self.table("Preferences").get("1", {})

    def preference(self, block: str, name: str, default: Any = None) -> Any:
        return self.preferences.get(block, {}).get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id, "preset": self.preset, "country": self.country, "timezone": self.timezone,
            "entities": self.entities, "tombstones": self.tombstones, "last_id": self.last_id,
            "doc_sequences": self.doc_sequences,
            "request_ids": {key: [r.fingerprint, r.status, r.body, r.media_type]
                            for key, r in self.request_ids.items()},
            "files": {key: base64.b64encode(data).decode("ascii") for key, data in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RealmState:
        state = cls(realm_id=data["realm_id"], preset=data["preset"], country=data["country"],
                    timezone=data["timezone"], entities=data["entities"], tombstones=data["tombstones"],
                    last_id=int(data["last_id"]), doc_sequences=data["doc_sequences"])
        for key, (fingerprint, status, body, media_type) in data["request_ids"].items():
            state.request_ids[key] = ReplayRecord(fingerprint, int(status), body, media_type)
        state.files = {key: base64.b64decode(text) for key, text in data["files"].items()}
        return state


class Store:
    """All realms, one re-entrant lock, and optional persistence to a directory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.realms: dict[str, RealmState] = {}
        self.lock = threading.RLock()
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)

    def realm(self, realm_id: str) -> RealmState | None:
        return self.realms.get(str(realm_id))

    def add(self, state: RealmState) -> RealmState:
        with self.lock:
            self.realms[state.realm_id] = state
            self.save(state.realm_id)
        return state

    def _path(self, realm_id: str) -> Path | None:
        return None if self.data_dir is None else self.data_dir / f"realm-{realm_id}.json"

    def load(self, realm_id: str) -> RealmState | None:
        """Read a persisted realm back, if the data directory has one."""
        path = self._path(realm_id)
        if path is None or not path.exists():
            return None
        state = RealmState.from_json(json.loads(path.read_text("utf-8"), parse_float=Decimal))
        self.realms[state.realm_id] = state
        return state

    def save(self, realm_id: str) -> None:
        path = self._path(realm_id)
        state = self.realms.get(realm_id)
        if path is None or state is None:
            return
        with self.lock:
            text = dumps(state.to_json())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
