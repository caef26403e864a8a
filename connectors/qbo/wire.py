"""JSON on the wire to QBO: the connectors' shared exact-money encoding (see connectors/jsonwire.py)."""

from __future__ import annotations

from connectors.jsonwire import dumps, loads

__all__ = ["dumps", "loads"]
