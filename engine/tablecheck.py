"""``check --tables``: a profile's tables against its QBO company, and which rows its records reach.

The references (``engine.runtime.tables.check_table_refs``) need only the company. Which rows are
reached needs records: the pack's cases planned with this profile (``fixture_usage``), or the
product's recent records planned live (``observed`` gives a compiled profile that reports its
lookups, to plan with any target and sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from engine.compile import compile_pack
from engine.packtest import Case, plan_case, with_profile
from engine.pipeline import Loaded
from engine.store import open_store

__all__ = ["Usage", "fixture_usage"]


class Usage:
    """Table lookups seen while planning: table -> key -> the inputs that looked it up."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[Any, list[str]]] = {}
        self.inputs = ""

    def observe(self, table: str, key: Any) -> None:
        where = self.seen.setdefault(table, {}).setdefault(key, [])
        if self.inputs not in where:
            where.append(self.inputs)

    def observed(self, loaded: Loaded) -> Loaded:
        """The profile compiled again, reporting its lookups here."""
        return replace(loaded, compiled=compile_pack(loaded.resolved, observe=self.observe))

    def frozen(self) -> dict[str, dict[Any, tuple[str, ...]]]:
        return {table: {key: tuple(where) for key, where in keys.items()} for table, keys in self.seen.items()}


def fixture_usage(loaded: Loaded, cases: Sequence[Case]) -> dict[str, dict[Any, tuple[str, ...]]]:
    """Which table keys the records of ``cases`` look up, planned with this profile."""
    usage = Usage()
    observed = usage.observed(loaded)
    store = open_store("sqlite://")  # one store for every case: migrating one costs more than a plan
    try:
        for case in cases:
            usage.inputs = f"case {case.name}"
            plan_case(with_profile(case, observed), store)
    finally:
        store.dispose()
    return usage.frozen()
