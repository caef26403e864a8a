"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.store import Store, open_store
from tests.pg import throwaway_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (``postgresql://`` URL) on the machine's server, dropped afterwards."""
    with throwaway_database() as url:
        yield url


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A migrated state store in a fresh PostgreSQL database (dropped afterwards)."""
    store = open_store(pg_url)
    yield store
    store.dispose()
