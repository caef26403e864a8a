"""The state store opens on SQLite and PostgreSQL, migrates, and matches its declared tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.errors import PasserelleError
from engine.store import open_store, state_url
from engine.store.tables import metadata


def _no_drift(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == [], f"tables.py and the migrations disagree: {diffs}"


def test_sqlite_file_created_on_first_use_and_matches_tables(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    store = open_store(str(path))
    assert path.exists() and store.dialect == "sqlite"
    _no_drift(store.engine)
    again = open_store(str(path))  # re-opening migrates nothing and keeps data
    with again.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO cursors (profile, name, value, updated_at) VALUES ('p', 'c', 'v', '2026-01-01')"))
    with open_store(str(path)).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM cursors")).scalar_one() == "v"


def test_postgresql_by_url(pg_url: str) -> None:
    store = open_store(pg_url)
    assert store.dialect == "postgresql"
    _no_drift(store.engine)
    store.dispose()


def test_environment_variable_chooses_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PASSERELLE_STATE", str(tmp_path / "x.db"))
    assert state_url() == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("PASSERELLE_STATE", "postgresql://u:pw@h/db")
    assert state_url() == "postgresql+psycopg://u:pw@h/db"


def test_unreachable_database_is_a_clear_error_without_password() -> None:
    with pytest.raises(PasserelleError) as caught:
        open_store("postgresql://someone:hunter2@127.0.0.1:1/nothing")
    text = str(caught.value)
    assert "E701" in text and "cannot open the state store" in text and "hunter2" not in text
