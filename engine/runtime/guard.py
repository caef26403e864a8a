"""The state guard: a product write that moves a record's state (flow `guard`) goes only when the
machine allows the move from the record's current state.

The plan is computed from the source side and the ledger; the product record may have moved since
(a user paid the invoice, an earlier event moved it). So before planning such a write, the record's
current state is read from the product (the machine's `records` and `state_field`) and checked with
the machine's transitions; a move the machine does not allow is a skip with its reason, never sent.
The machine's records are read once per plan, and only when a guarded write is about to be planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.machines import CompiledMachine
from engine.model import Connection, Flow

__all__ = ["StateGuard"]

_MISSING = object()


class StateGuard:
    """Checks guarded writes against their machine, reading current states lazily (once per resource)."""

    def __init__(self, machines: Mapping[str, CompiledMachine], connections: Mapping[str, Connection],
                 sources: Mapping[str, Any]) -> None:
        self._machines, self._connections, self._sources = machines, connections, sources
        self._states: dict[tuple[str, str], dict[str, Any]] = {}

    def refusal(self, flow: Flow, payload: Any, target_id: str | None) -> str | None:
        """Why this write must not go (the machine forbids the move), or None when it may."""
        guard = flow.guard
        if guard is None or not isinstance(payload, Mapping) or guard.field not in payload:
            return None
        compiled = self._machines.get(guard.machine)
        if compiled is None:  # compile refuses an unknown machine (E507); nothing to check against here
            return None
        machine = compiled.machine
        new = payload[guard.field]
        if target_id is None:  # a new record starts in the machine's initial state
            current: Any = machine.initial
            what = f"a new {flow.target.entity} record"
        else:
            current = self._current(compiled, str(target_id))
            assert machine.records is not None
            what = f"{machine.records.entity} {target_id}"
            if current is _MISSING:
                return (f"{what} was not found in {machine.records.connection}: its {guard.field} is not moved "
                        "without knowing its current state")
        if current not in machine.states:
            return f"{what} is {current!r}, which is not a state of machine {machine.name!r}"
        if new not in machine.states:
            return f"{guard.field} {new!r} is not a state of machine {machine.name!r}"
        if not compiled.allows(str(current), str(new)):
            return (f"machine {machine.name!r} allows no move from {current!r} to {new!r} ({what} is {current!r} "
                    "now)")
        return None

    def _current(self, compiled: CompiledMachine, target_id: str) -> Any:
        machine = compiled.machine
        assert machine.records is not None and machine.state_field
        where = (machine.records.connection, machine.records.entity)
        if where not in self._states:
            self._states[where] = self._read(*where, machine.state_field)
        return self._states[where].get(target_id, _MISSING)

    def _read(self, connection: str, resource: str, state_field: str) -> dict[str, Any]:
        """id -> current state of every record of the resource, read in full (never since a cursor: a
        record not changed lately still has a state)."""
        source = self._sources.get(connection)
        if source is None:
            return {}
        declared = self._connections.get(connection)
        options = ((declared.options.get("resources") or {}).get(resource) or {}) if declared is not None else {}
        id_field = str(options.get("id") or "id")
        reader = getattr(source, "read", None)  # an http product reads in full without moving its cursor
        rows = reader(resource, track=False) if reader is not None else source.records(resource)
        return {str(row.get(id_field)): row.get(state_field) for row in rows if row.get(id_field) is not None}
