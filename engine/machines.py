"""Machines: one ``transitions`` definition per machine kind, shared by every record.

A record's state is plain data (kept in the ledger); firing a trigger asks the shared definition
which transition applies from that state. Compile-time checks catch what would otherwise only
show up on a live event: unknown states, unreachable states, dead ends not marked final, triggers
that nothing fires, and event mappings (``goto``) the machine's transitions forbid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine as TransitionsMachine

from engine.errors import Loc, RuleError
from engine.expressions import CompiledExpr, ExprEnv, compile_expr
from engine.model import Machine, Trigger
from engine.resolve import ResolvedPack
from engine.validate import did_you_mean

__all__ = ["CompiledMachine", "CompiledTrigger", "compile_machine", "mermaid"]


@dataclass(frozen=True)
class CompiledTrigger:
    trigger: Trigger
    when: CompiledExpr | None
    goto: CompiledExpr | None
    goto_state: str | None  # known at compile time when the goto reads settings only


@dataclass(frozen=True)
class CompiledMachine:
    machine: Machine
    definition: TransitionsMachine
    guards: Mapping[int, CompiledExpr]
    triggers: tuple[CompiledTrigger, ...]

    @property
    def name(self) -> str:
        return self.machine.name

    def fire(self, state: str, trigger: str, scope: dict[str, Any]) -> str | None:
        """The state a record in ``state`` moves to when ``trigger`` fires, or None if none applies."""
        event = self.definition.events.get(trigger)
        if event is None:
            return None
        for index, transition in enumerate(self.machine.transitions):
            if transition.trigger != trigger or not ("*" in transition.sources or state in transition.sources):
                continue
            guard = self.guards.get(index)
            if guard is None or guard(scope):
                return transition.dest
        return None

    def allows(self, source: str, dest: str) -> bool:
        return source == dest or any(
            t.dest == dest and ("*" in t.sources or source in t.sources) for t in self.machine.transitions
        )

    def for_event(self, event: str) -> tuple[CompiledTrigger, ...]:
        return tuple(t for t in self.triggers if t.trigger.kind == "on" and t.trigger.source == event)


def _state_errors(machine: Machine) -> list[RuleError]:
    errors = []
    states = machine.states
    if machine.initial not in states:
        errors.append(RuleError("E501", f"machine {machine.name!r}: initial state {machine.initial!r} is not a state",
                                machine.initial_loc or machine.loc, hint=did_you_mean(machine.initial, states)))
    for t in machine.transitions:
        for name in (*t.sources, t.dest):
            if name != "*" and name not in states:
                errors.append(RuleError("E501", f"machine {machine.name!r}: unknown state {name!r} in transition "
                                        f"{t.trigger!r}", t.loc, hint=did_you_mean(name, states)))
    for trig in machine.triggers:
        for name in trig.from_states or ():
            if name not in states:
                errors.append(RuleError("E501", f"machine {machine.name!r}: unknown state {name!r} in trigger `from`",
                                        trig.loc, hint=did_you_mean(name, states)))
    return errors


def _setting_loc(expr: CompiledExpr, resolved: ResolvedPack) -> tuple[Loc, list[str]]:
    """Where the value a goto reads was set: the profile line when a setting decides it."""
    for name in expr.settings:
        eff = resolved.settings.get(name)
        if eff is not None:
            return eff.loc, [f"the state comes from setting {name!r} ({eff.layer}); the mapping is at {expr.src.loc}"]
    return expr.src.loc, []


def compile_machine(machine: Machine, resolved: ResolvedPack, env: ExprEnv
                    ) -> tuple[CompiledMachine | None, list[RuleError]]:
    errors = _state_errors(machine)
    guards: dict[int, CompiledExpr] = {}
    for index, t in enumerate(machine.transitions):
        if t.when is not None:
            result = compile_expr(t.when, env)
            if isinstance(result, list):
                errors.extend(result)
            else:
                guards[index] = result
    triggers = []
    trigger_names = {t.trigger for t in machine.transitions}
    settings = resolved.setting_values()
    for trig in machine.triggers:
        when = goto = None
        goto_state = None
        if trig.when is not None:
            result = compile_expr(trig.when, env)
            errors.extend(result) if isinstance(result, list) else None
            when = None if isinstance(result, list) else result
        if trig.fire is not None and trig.fire not in trigger_names:
            errors.append(RuleError("E505", f"machine {machine.name!r}: trigger fires {trig.fire!r}, which no "
                                    "transition has", trig.loc, hint=did_you_mean(trig.fire, trigger_names)))
        if trig.goto is not None:
            result = compile_expr(trig.goto, env)
            if isinstance(result, list):
                errors.extend(result)
            else:
                goto = result
                if result.names <= {"settings"}:
                    try:
                        goto_state = result({"settings": settings})
                    except Exception:
                        goto_state = None
                    loc, notes = _setting_loc(result, resolved)
                    if goto_state is None and resolved.profile is None:
                        pass  # a pack checked alone may leave the setting unset
                    elif goto_state not in machine.states:
                        errors.append(RuleError("E501", f"machine {machine.name!r}: event {trig.source!r} maps to "
                                                f"{goto_state!r}, which is not a state", loc, notes=tuple(notes),
                                                hint=did_you_mean(str(goto_state), machine.states)))
                        goto_state = None
        triggers.append(CompiledTrigger(trig, when, goto, goto_state))
    if errors:
        return None, errors
    definition = TransitionsMachine(
        model=None, states=list(machine.states), initial=machine.initial, auto_transitions=False,
        transitions=[{"trigger": t.trigger, "source": list(t.sources) if "*" not in t.sources else "*", "dest": t.dest}
                     for t in machine.transitions],
    )
    compiled = CompiledMachine(machine, definition, guards, tuple(triggers))
    errors.extend(_graph_errors(compiled, resolved))
    return (None, errors) if errors else (compiled, [])


def _graph_errors(compiled: CompiledMachine, resolved: ResolvedPack) -> list[RuleError]:
    machine = compiled.machine
    errors: list[RuleError] = []
    fired = {t.trigger.fire for t in compiled.triggers if t.trigger.fire}
    for t in machine.transitions:
        if t.trigger not in fired:
            errors.append(RuleError("E504", f"machine {machine.name!r}: nothing fires trigger {t.trigger!r}", t.loc,
                                    hint="add a trigger (event, schedule or manual action) with `fire: "
                                    f"{t.trigger}`, or remove the transition"))
    edges: dict[str, set[str]] = {s: set() for s in machine.states}
    for t in machine.transitions:
        for source in (machine.states if "*" in t.sources else t.sources):
            edges.setdefault(source, set()).add(t.dest)
    gotos = {t.goto_state for t in compiled.triggers if t.goto_state}
    seen, todo = {machine.initial}, [machine.initial, *gotos]
    seen.update(gotos)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for state in machine.states.values():
        if state.name not in seen:
            errors.append(RuleError("E502", f"machine {machine.name!r}: state {state.name!r} is unreachable from "
                                    f"{machine.initial!r}", state.loc))
        elif not edges.get(state.name) and not state.final:
            errors.append(RuleError("E503", f"machine {machine.name!r}: state {state.name!r} is a dead end but not "
                                    "marked final", state.loc, hint="add a transition out of it, or `final: true`"))
    for trig in compiled.triggers:
        if trig.goto_state is None or trig.goto is None:
            continue
        sources = trig.trigger.from_states or tuple(s.name for s in machine.states.values() if not s.final)
        forbidden = [s for s in sources if not compiled.allows(s, trig.goto_state)]
        if forbidden:
            loc, notes = _setting_loc(trig.goto, resolved)
            errors.append(RuleError(
                "E506", f"machine {machine.name!r}: event {trig.trigger.source!r} moves records to "
                f"{trig.goto_state!r}, but the machine has no transition to it from {', '.join(map(repr, forbidden))}",
                loc, notes=(*notes, f"event mapping at {trig.trigger.loc}"),
                hint="choose a state the machine allows, or add the transitions (status transfer rules)"))
    return errors


def mermaid(machine: Machine) -> str:
    """The machine as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for t in machine.transitions:
        sources = list(machine.states) if "*" in t.sources else t.sources
        label = t.trigger + (f" [{t.when.text}]" if t.when else "")
        lines.extend(f"    {s} --> {t.dest}: {label}" for s in sources)
    for trig in machine.triggers:
        if trig.goto is not None:
            lines.append(f"    note right of {machine.initial}: {trig.source} goes to {trig.goto.text}")
    lines.extend(f"    {s.name} --> [*]" for s in machine.states.values() if s.final)
    return "\n".join(lines) + "\n"
