"""Starting companies: a French one (VAT, PCG chart of accounts, EUR) and a US one (sales tax, USD);
``fr-demo`` is the French one with a few open supplier bills, for demos that read transactions.

A preset is plain data; :func:`build_realm` turns it into a realm whose rows look as if QBO had
created them (Id, SyncToken "0", MetaData at the realm's creation instant). A preset's ``samples`` are
transactions written afterwards through the normal rules (totals, balances and taxes computed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sandbox.store import RealmState
from connectors.sandbox.timefmt import stamp

__all__ = ["PRESETS", "Preset", "build_realm"]


@dataclass(frozen=True)
class Preset:
    """A company's country, time zone and starting rows (by entity, with explicit Ids)."""

    name: str
    country: str
    timezone: str
    rows: Mapping[str, tuple[dict[str, Any], ...]]
    samples: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)


def _fr() -> Preset:
    from connectors.sandbox.presets.fr import FR
    return FR


def _fr_demo() -> Preset:
    from connectors.sandbox.presets.fr import FR_DEMO
    return FR_DEMO


def _us() -> Preset:
    from connectors.sandbox.presets.us import US
    return US


def _empty() -> Preset:
    from connectors.sandbox.presets.us import empty
    return empty()


PRESETS: Mapping[str, Callable[[], Preset]] = {"fr": _fr, "fr-demo": _fr_demo, "us": _us, "empty": _empty}


def build_realm(realm_id: str, preset_name: str, now: datetime) -> RealmState:
    try:
        preset = PRESETS[preset_name]()
    except KeyError:
        raise ValueError(f"unknown preset {preset_name!r}; choose one of {sorted(PRESETS)}") from None
    realm = RealmState(realm_id=realm_id, preset=preset.name, country=preset.country, timezone=preset.timezone)
    created = stamp(now, preset.timezone)
    highest = 0
    for entity, rows in preset.rows.items():
        table = realm.table(entity)
        for source in rows:
            row = {"domain": "QBO", "sparse": False, "SyncToken": "0",
                   "MetaData": {"CreateTime": created, "LastUpdatedTime": created}, **copy.deepcopy(source)}
            row["Id"] = str(row["Id"])
            if entity == "CompanyInfo":
                row.setdefault("Id", "1")
            table[row["Id"]] = row
            if row["Id"].isdigit():
                highest = max(highest, int(row["Id"]))
    realm.last_id = max(highest, 100)
    return realm
