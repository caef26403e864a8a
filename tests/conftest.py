"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import throwaway_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (``postgresql://`` URL) on the machine's server, dropped afterwards."""
    with throwaway_database() as url:
        yield url
