"""Flow `guard` declarations, checked when the pack compiles.

A guard says that one payload field of a flow's writes sets the state of the written record under a
machine (e.g. a product invoice's status). The runtime then checks every such write against the
machine's transitions from the record's current state (``engine.runtime.guard``); here the
declaration itself is checked, so a typo in a machine or state name is a located error before
anything runs, not a write that is silently never checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import RuleError
from engine.expressions import ExprEnv, compile_expr
from engine.model import ConstValue, ExprValue, Flow, Machine, ValueSpec
from engine.validate import did_you_mean

__all__ = ["guard_errors"]


def guard_errors(flows: Mapping[str, Flow], machines: Mapping[str, Machine], settings: Mapping[str, Any],
                 env: ExprEnv) -> list[RuleError]:
    """Every problem of every flow's `guard` (E507); ``env`` compiles field expressions over settings only."""
    errors: list[RuleError] = []
    for flow in flows.values():
        guard = flow.guard
        if guard is None:
            continue
        machine = machines.get(guard.machine)
        if machine is None:
            errors.append(RuleError("E507", f"flow {flow.name!r}: guard names machine {guard.machine!r}, which the "
                                    "pack does not declare", guard.machine_loc,
                                    hint=did_you_mean(guard.machine, machines) or "declare it under `machines:`"))
            continue
        if machine.records is None or not machine.state_field:
            errors.append(RuleError("E507", f"flow {flow.name!r}: machine {machine.name!r} declares no `records` and "
                                    "`state_field`, so a record's current state cannot be read", guard.machine_loc,
                                    hint="give the machine `records: {connection, entity}` and `state_field`"))
            continue
        if machine.records.connection != flow.target.connection:
            errors.append(RuleError("E507", f"flow {flow.name!r}: machine {machine.name!r} governs records of "
                                    f"connection {machine.records.connection!r}, but the flow writes to "
                                    f"{flow.target.connection!r}", guard.machine_loc))
        fields = dict(flow.fields.fields)
        spec = fields.get(guard.field)
        if spec is None:
            errors.append(RuleError("E507", f"flow {flow.name!r}: guard field {guard.field!r} is not one of the "
                                    "flow's fields", guard.field_loc,
                                    hint=did_you_mean(guard.field, fields) or f"fields: {', '.join(fields)}"))
            continue
        known, value = _known_value(spec, settings, env)
        if known and value not in machine.states:
            errors.append(RuleError("E507", f"flow {flow.name!r}: field {guard.field!r} sets {value!r}, which is not "
                                    f"a state of machine {machine.name!r}", guard.field_loc,
                                    hint=did_you_mean(str(value), machine.states)
                                    or f"states: {', '.join(machine.states)}"))
    return errors


def _known_value(spec: ValueSpec, settings: Mapping[str, Any], env: ExprEnv) -> tuple[bool, Any]:
    """The field's value when the pack alone decides it (a constant, or an expression over settings)."""
    if isinstance(spec, ConstValue):
        return True, spec.value
    if not isinstance(spec, ExprValue):
        return False, None
    compiled = compile_expr(spec.src, env)
    if isinstance(compiled, list):  # reads the record or vars: known only at run time
        return False, None
    try:
        return True, compiled({"settings": settings})
    except Exception:  # a setting a pack checked alone leaves unset
        return False, None
