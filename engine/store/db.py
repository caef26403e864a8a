"""Opening the store: a SQLite file by default, PostgreSQL (psycopg) by URL, migrated on open.

``PASSERELLE_STATE`` chooses it: a path (SQLite) or a database URL. Without it, the store is
``.passerelle/state.db`` under the current directory, created on first use, like a project's
working state. Alembic migrations run on every open (a no-op when current).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from engine.errors import PasserelleError, RuleError

__all__ = ["DEFAULT_PATH", "Store", "open_store", "state_url"]

DEFAULT_PATH = Path(".passerelle") / "state.db"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def state_url(value: str | None = None, *, create: bool = True) -> str:
    """The database URL for a path or URL (default: PASSERELLE_STATE, else .passerelle/state.db).

    With ``create=False`` a SQLite file that does not exist yet is not created: the URL is then an
    empty in-memory database (what a read-only command such as ``plan`` needs)."""
    value = value or os.environ.get("PASSERELLE_STATE") or str(DEFAULT_PATH)
    if "://" in value:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://"):]
        return value
    path = Path(value).expanduser()
    if not create and not path.exists():
        return "sqlite://"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@dataclass(frozen=True)
class Store:
    """An opened, migrated state store."""

    engine: Engine
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    def refresh_statistics(self, tables: Sequence[str]) -> None:
        """PostgreSQL plans a query from statistics autovacuum refreshes about once a minute: a run that grows a
        table from nothing to thousands of rows in seconds is planned as if it were still empty (an index used
        for its first columns only, the rest filtered row by row, slower with every batch). ANALYZE reads a
        bounded sample of rows. SQLite keeps no such statistics: nothing to do."""
        if self.dialect == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE " + ", ".join(tables)))


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def open_store(value: str | None = None, *, create: bool = True) -> Store:
    """Open (creating and migrating as needed) the state store; see ``state_url`` for ``create``."""
    url = state_url(value, create=create)
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            _sqlite_pragmas(engine)
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise PasserelleError([RuleError("E701", f"cannot open the state store {_safe(url)}: {exc.orig}",
                                         hint="check PASSERELLE_STATE (a file path or a database URL)")]) from None
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise PasserelleError([RuleError("E701", f"cannot open the state store {_safe(url)}: {exc}",
                                         hint="check PASSERELLE_STATE (a file path or a database URL)")]) from None
    return Store(engine, url)
