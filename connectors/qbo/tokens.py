"""OAuth tokens at rest: the ``connections`` table of the state store, encrypted with Fernet.

The key comes from ``PASSERELLE_SECRET_KEY`` (generate one with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``). Several keys
may be given, comma-separated: the first encrypts, all decrypt, so a key can be rotated without
reconnecting every company. Without the variable, a SQLite state store keeps its key in ``secret.key``
beside it (owner-only permissions), written by the first ``passerelle connect``; the variable wins when set.

Concurrency: a row's ``version`` goes up on every rotation, and a *lease* (``lease_owner``, ``lease_until``)
marks the one process allowed to call the token endpoint; it is taken with a conditional UPDATE, which
SQLite and PostgreSQL both run atomically. A lease that its owner never released lapses by itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connectors.qbo.faults import QboFault, local_fault
from engine.store import Store
from engine.store.db import DEFAULT_PATH
from engine.store.tables import connections

__all__ = ["KEY_FILE", "SECRET_KEY_ENV", "SecretBox", "StoredTokens", "TokenGrant", "TokenStore", "key_file",
           "stored_token_source"]

SECRET_KEY_ENV = "PASSERELLE_SECRET_KEY"
_GENERATE = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


KEY_FILE = "secret.key"


def key_file(env: Mapping[str, str]) -> Path | None:
    """Where the generated key lives: beside the SQLite state store (None for a database URL)."""
    state = env.get("PASSERELLE_STATE") or str(DEFAULT_PATH)
    if state.startswith("sqlite:///"):
        state = state[len("sqlite:///"):]
    elif "://" in state:
        return None
    return Path(state).parent / KEY_FILE


def _write_key_file(path: Path) -> str:
    """A new Fernet key in ``path``, readable by its owner only (the folder too when created here)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key().decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    os.chmod(path, 0o600)  # whatever the umask
    return key


class SecretBox:
    """Encrypts and decrypts token strings."""

    source: str = SECRET_KEY_ENV  # where the key came from (the variable, or the key file's path)
    created: bool = False         # the key file was written just now

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        try:
            self._fernet = MultiFernet([Fernet(part.encode("ascii")) for part in parts])
        except (ValueError, UnicodeEncodeError):
            raise QboFault(local_fault("configuration", f"{SECRET_KEY_ENV} is not a valid Fernet key; generate one "
                                                        f"with: {_GENERATE}")) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, create: bool = False) -> SecretBox:
        """The key of ``PASSERELLE_SECRET_KEY`` when set; else the key file beside a SQLite state store
        (``secret.key``, owner-only), which ``create`` (``passerelle connect``) writes on first use."""
        values = os.environ if env is None else env
        keys = values.get(SECRET_KEY_ENV, "")
        if keys.strip():
            return cls(keys)
        path = key_file(values)
        if path is not None and path.is_file():
            box = cls(path.read_text(encoding="ascii", errors="replace").strip())
            box.source = str(path)
            return box
        if path is None or not create:
            where = f", or run `passerelle connect` once to keep a new key in {path}" if path is not None else \
                " (a database state store keeps no key file)"
            raise QboFault(local_fault("configuration", f"{SECRET_KEY_ENV} is not set: the QBO tokens are stored "
                                                        f"encrypted with it. Generate one with: {_GENERATE}{where}"))
        box = cls(_write_key_file(path))
        box.source, box.created = str(path), True
        return box

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, data: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(data)).decode("utf-8")
        except InvalidToken:
            raise QboFault(local_fault("configuration", f"the stored QBO tokens cannot be decrypted with "
                                                        f"{SECRET_KEY_ENV} (was the key changed?); put the old "
                                                        "key after the new one, or reconnect")) from None

    def __repr__(self) -> str:
        return "SecretBox(***)"


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint answered."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float = 3600
    refresh_expires_in: float | None = None


@dataclass(frozen=True)
class StoredTokens:
    """One profile's connection, decrypted."""

    profile: str
    realm_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    previous_refresh_token: str | None = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    version: int
    lease_owner: str | None = None
    lease_until: datetime | None = None


class TokenStore:
    """Reads and writes the ``connections`` table; every write is one statement."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.engine = store.engine
        self.box = box

    def load(self, profile: str) -> StoredTokens | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(connections).where(connections.c.profile == profile)).mappings().first()
        if row is None:
            return None
        previous = row["previous_refresh_token"]
        return StoredTokens(
            profile=row["profile"], realm_id=row["realm_id"], access_token=self.box.decrypt(row["access_token"]),
            refresh_token=self.box.decrypt(row["refresh_token"]),
            previous_refresh_token=self.box.decrypt(previous) if previous is not None else None,
            access_expires_at=_utc(row["access_expires_at"]) or datetime.min.replace(tzinfo=UTC),
            refresh_expires_at=_utc(row["refresh_expires_at"]), version=int(row["version"]),
            lease_owner=row["lease_owner"], lease_until=_utc(row["lease_until"]))

    def _values(self, grant: TokenGrant, now: datetime) -> dict[str, object]:
        refresh_expires = (now + timedelta(seconds=grant.refresh_expires_in)
                           if grant.refresh_expires_in is not None else None)
        return {"access_token": self.box.encrypt(grant.access_token),
                "refresh_token": self.box.encrypt(grant.refresh_token),
                "access_expires_at": now + timedelta(seconds=grant.expires_in),
                "refresh_expires_at": refresh_expires, "updated_at": now, "lease_owner": None, "lease_until": None}

    def connect(self, profile: str, realm_id: str, grant: TokenGrant, now: datetime) -> None:
        """Store a fresh authorisation (``passerelle connect``); nothing else of the profile is touched."""
        now = _utc(now) or now
        values = {**self._values(grant, now), "realm_id": realm_id, "previous_refresh_token": None}
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(connections.c.version).where(connections.c.profile == profile)).first()
            if current is None:
                conn.execute(sa.insert(connections).values(profile=profile, version=0, **values))
            else:
                conn.execute(sa.update(connections).where(connections.c.profile == profile)
                             .values(version=int(current[0]) + 1, **values))

    def take_lease(self, profile: str, owner: str, version: int, now: datetime, seconds: float) -> bool:
        """Claim the right to refresh, if nobody holds a live lease and the row is still at ``version``."""
        now = _utc(now) or now
        c = connections.c
        statement = (sa.update(connections)
                     .where(c.profile == profile, c.version == version,
                            sa.or_(c.lease_until.is_(None), c.lease_until < now))
                     .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds)))
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount == 1

    def rotate(self, profile: str, owner: str, version: int, grant: TokenGrant, *, used_refresh_token: str,
               now: datetime) -> bool:
        """Save refreshed tokens if we still hold the lease on ``version``; keeps the used refresh token."""
        now = _utc(now) or now
        c = connections.c
        values = {**self._values(grant, now), "previous_refresh_token": self.box.encrypt(used_refresh_token),
                  "version": version + 1}
        statement = (sa.update(connections).where(c.profile == profile, c.version == version, c.lease_owner == owner)
                     .values(**values))
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount == 1

    def release(self, profile: str, owner: str) -> None:
        c = connections.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(connections).where(c.profile == profile, c.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    def expire_access(self, profile: str, at: datetime) -> None:
        """Mark the access token as expiring at ``at`` (tests; clock skew drills)."""
        with self.engine.begin() as conn:
            conn.execute(sa.update(connections).where(connections.c.profile == profile)
                         .values(access_expires_at=_utc(at)))

    def disconnect(self, profile: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(connections).where(connections.c.profile == profile))


def stored_token_source(store: Store, profile: str, *, base_url: str | None = None, client_id: str | None = None,
                        client_secret: str | None = None, env: Mapping[str, str] | None = None,
                        transport: Any = None) -> Any:
    """The self-refreshing tokens of a connected profile, for callers that only have its name.

    ``base_url`` defaults to ``PASSERELLE_QBO_BASE_URL`` or the Passerelle sandbox; the app credentials
    default to the sandbox's own, so against Intuit pass ``client_id`` and ``client_secret`` (or use
    :func:`connectors.qbo.profile.token_source`, which reads them from the profile's secrets).
    """
    import httpx

    from connectors.qbo.config import is_intuit, resolve_base_url
    from connectors.qbo.oauth import AppCredentials, OAuthClient, OAuthTokens, discover_endpoints
    from connectors.qbo.profile import SANDBOX_CREDENTIALS

    base = base_url or resolve_base_url("passerelle-sandbox", env)
    if not (client_id and client_secret):
        if is_intuit(base):
            raise QboFault(local_fault("configuration", "refreshing Intuit tokens needs the app's client id and "
                                                        "secret"))
        client_id, client_secret = SANDBOX_CREDENTIALS
    http = httpx.Client(transport=transport, timeout=httpx.Timeout(30.0, connect=10.0))
    oauth = OAuthClient(http, discover_endpoints(http, base), AppCredentials(client_id, client_secret))
    return OAuthTokens(profile, TokenStore(store, SecretBox.from_env(env)), oauth,
                       clock=lambda: datetime.now(UTC))
