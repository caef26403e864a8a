"""The profiles a deployment runs, found on disk and kept current while the service runs.

Roots are profile files or folders (every ``*.yaml`` under them whose ``kind`` is ``profile``); by
default ``rules/*/customers/``. :meth:`Deployment.scan` compiles what is new or changed (by file
modification times, the profile's and its pack's), forgets what disappeared, and re-reads which QBO
company each profile is connected to. A profile that does not compile is listed with its error and
never run, so one bad file cannot stop the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from engine.errors import PasserelleError
from engine.model import RulePack
from engine.pipeline import Loaded, load_pack, run_pipeline
from engine.resources import rules_dir
from engine.serve.profiles import ProductEvents, event_specs, seconds
from engine.source import load_file
from engine.store import Store
from engine.store.tables import connections

__all__ = ["Deployment", "Entry", "ScanReport", "default_roots"]


@dataclass(frozen=True)
class Entry:
    """One profile of the deployment, as the service needs it (no open connection, no secret kept)."""

    key: str
    path: Path
    realm: str | None = None
    every: float | None = None        # seconds between automatic syncs; None: no schedule
    enabled: bool = True
    first_sync_manual: bool = False   # the service waits until someone launches the first sync (G5)
    verifier: str | None = None
    products: Mapping[str, ProductEvents] = field(default_factory=dict)
    stamp: tuple[float, ...] = ()
    error: str | None = None
    loaded: Loaded | None = field(default=None, compare=False, repr=False)

    @property
    def fixed_realm(self) -> bool:
        return bool(self.loaded and _configured_realm(self.loaded))


@dataclass(frozen=True)
class ScanReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


def default_roots() -> tuple[Path, ...]:
    """``rules/*/customers`` of the current folder, else of the shipped packs."""
    base = Path("rules") if Path("rules").is_dir() else rules_dir()
    return tuple(sorted(p for p in base.glob("*/customers") if p.is_dir()))


def _profile_files(roots: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(p for p in root.rglob("*.yaml") if p.is_file()))
    return found


def _is_profile(path: Path) -> bool:
    try:
        return load_file(path).data.get("kind") == "profile"
    except PasserelleError:
        return True  # a broken file that may be a profile: compiling it reports the error


def _files_stamp(names: Iterable[str]) -> tuple[float, ...]:
    return tuple(_mtime(Path(name)) for name in names)


def _stamp(path: Path, loaded: Loaded | None) -> tuple[float, ...]:
    return (_mtime(path), *(_files_stamp(loaded.pack.files) if loaded is not None else ()))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _configured_realm(loaded: Loaded) -> str | None:
    for conn in loaded.resolved.connections.values():
        if conn.connector == "qbo" and conn.options.get("realm"):
            return str(conn.options["realm"])
    return None


def _every(text: str | None) -> float | None:
    return seconds(text) if text else None


class Deployment:
    """The profiles under ``roots``; ``env`` resolves secret references (default: the process's)."""

    def __init__(self, roots: Sequence[Path] | None, store: Store, env: Mapping[str, str] | None = None) -> None:
        self.roots = tuple(roots) if roots else default_roots()
        self.store = store
        self.env = dict(os.environ if env is None else env)
        self._entries: dict[str, Entry] = {}
        self._by_path: dict[Path, str] = {}
        self._packs: dict[Path, tuple[tuple[float, ...], RulePack]] = {}

    # -- reading ---------------------------------------------------------------------------------
    def entries(self) -> dict[str, Entry]:
        return dict(self._entries)

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def fresh(self, key: str) -> Entry | None:
        """The entry, compiled again first when its files changed since (a worker runs what is on disk)."""
        entry = self._entries.get(key)
        if entry is None or entry.stamp == _stamp(entry.path, entry.loaded):
            return entry
        self.scan()
        return self._entries.get(key)

    def by_realm(self, realm: str) -> list[Entry]:
        """The runnable profiles connected to one QBO company (a notification reaches each of them)."""
        return [e for e in self._entries.values() if e.realm == realm and e.enabled and e.error is None]

    def runnable(self) -> list[Entry]:
        return [e for e in self._entries.values() if e.error is None]

    # -- scanning --------------------------------------------------------------------------------
    def scan(self) -> ScanReport:
        seen: dict[Path, str] = {}
        added: list[str] = []
        changed: list[str] = []
        failed: list[str] = []
        for found in _profile_files(self.roots):
            path = found.resolve()
            key = self._by_path.get(path)
            old = self._entries.get(key) if key else None
            if old is not None and old.stamp == _stamp(path, old.loaded):
                seen[path] = old.key
                continue
            if old is None and not _is_profile(path):
                continue
            entry = self._compile(path)
            if entry.error is not None:
                failed.append(entry.key)
            if key and key != entry.key:
                self._entries.pop(key, None)
            (changed if old is not None else added).append(entry.key)
            self._entries[entry.key] = entry
            seen[path] = entry.key
        removed = [k for p, k in self._by_path.items() if p not in seen and k not in seen.values()]
        for key in removed:
            self._entries.pop(key, None)
        self._by_path = seen
        self._refresh_realms()
        return ScanReport(tuple(added), tuple(changed), tuple(removed), tuple(failed))

    def _load_pack(self, folder: Path) -> RulePack:
        """A pack shared by many profiles is built once while its files stay the same (most of a profile's
        compile time is its pack's)."""
        key = folder.resolve()
        cached = self._packs.get(key)
        if cached is not None and cached[0] == _files_stamp(cached[1].files):
            return cached[1]
        pack = load_pack(folder)
        self._packs[key] = (_files_stamp(pack.files), pack)
        return pack

    def _compile(self, path: Path) -> Entry:
        try:
            loaded = run_pipeline(path, self._load_pack)
        except PasserelleError as exc:
            first = exc.errors[0] if exc.errors else None
            where = f"{first.loc.file}:{first.loc.line}: " if first and first.loc else ""
            message = f"{where}{first.message}" if first else str(exc)
            return Entry(key=f"?{path}", path=path, stamp=(_mtime(path),), error=message)
        resolved = loaded.resolved
        verifier, products = event_specs(resolved, self.env)
        return Entry(key=resolved.key, path=path, realm=_configured_realm(loaded) or self.env.get("PASSERELLE_QBO_REALM"),
                     every=_every(resolved.schedule.every), enabled=resolved.enabled, verifier=verifier,
                     first_sync_manual=resolved.schedule.first_sync == "manual",
                     products=products, stamp=_stamp(path, loaded), loaded=loaded)

    def _refresh_realms(self) -> None:
        """Profiles connected with ``passerelle connect`` take their company from the store."""
        with self.store.engine.connect() as conn:
            stored: dict[str, str] = dict(conn.execute(
                sa.select(connections.c.profile, connections.c.realm_id)).all())
        for key, entry in list(self._entries.items()):
            if entry.error is None and not entry.fixed_realm and key in stored and stored[key] != entry.realm:
                self._entries[key] = replace(entry, realm=str(stored[key]))
