"""The typed, frozen values of a validated pack and profile (the output of ``build``).

Every element keeps the location it came from, so later stages (resolve, compile, evaluate)
report problems at the line the author wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import Loc, PathPart

__all__ = [
    "Check", "Child", "Connection", "ConstValue", "EachValue", "Endpoint", "ExprValue", "Flow", "Gone", "Guard",
    "ListValue", "LookupValue", "Machine", "Mods", "ObjectValue", "Operations", "PackMeta", "Profile", "RefValue",
    "Refusal",
    "Row", "RulePack", "Schedule", "Setting", "Src", "State", "Table", "TableChange", "TableRef", "TemplateValue",
    "Transition", "Trigger", "Unique", "ValueSpec",
]


@dataclass(frozen=True)
class Src:
    """A piece of source text (expression or template) and where it was written."""

    text: str
    loc: Loc
    path: tuple[PathPart, ...] = ()


@dataclass(frozen=True)
class Mods:
    """Modifiers every mapped value may carry."""

    when: Src | None = None
    type: str | None = None
    round: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class ExprValue:
    src: Src
    mods: Mods = Mods()


@dataclass(frozen=True)
class TemplateValue:
    src: Src
    mods: Mods = Mods()


@dataclass(frozen=True)
class ConstValue:
    value: Any
    loc: Loc
    path: tuple[PathPart, ...] = ()
    mods: Mods = Mods()


@dataclass(frozen=True)
class LookupValue:
    table: str
    key: Src
    loc: Loc
    path: tuple[PathPart, ...] = ()
    mods: Mods = Mods()


@dataclass(frozen=True)
class RefValue:
    loc: Loc
    path: tuple[PathPart, ...]
    entity: str | None = None
    by: str = "Name"
    value: Src | None = None
    flow: str | None = None
    key: Src | None = None
    on_missing: str = "error"
    create_when: Src | None = None
    create: ObjectValue | None = None
    shape: str = "ref"
    field: str | None = None
    by_loc: Loc | None = None
    connection: str | None = None  # a product connection: find a record of its resource `entity` instead
    also_by: tuple[str, ...] = ()  # fields tried in turn when nothing matches by `by`
    mods: Mods = Mods()


@dataclass(frozen=True)
class ObjectValue:
    fields: tuple[tuple[str, ValueSpec], ...]
    loc: Loc
    path: tuple[PathPart, ...] = ()
    mods: Mods = Mods()


@dataclass(frozen=True)
class EachValue:
    each: Src
    name: str
    where: Src | None
    map: ValueSpec
    loc: Loc
    path: tuple[PathPart, ...] = ()
    mods: Mods = Mods()


@dataclass(frozen=True)
class ListValue:
    items: tuple[ValueSpec, ...]
    loc: Loc
    path: tuple[PathPart, ...] = ()
    mods: Mods = Mods()


ValueSpec = ExprValue | TemplateValue | ConstValue | LookupValue | RefValue | ObjectValue | EachValue | ListValue


@dataclass(frozen=True)
class PackMeta:
    name: str
    version: str
    title: str
    description: str
    loc: Loc


@dataclass(frozen=True)
class Connection:
    name: str
    connector: str
    options: Mapping[str, Any]
    loc: Loc
    base_dir: Path = Path(".")
    secret_refs: tuple[tuple[str, Loc], ...] = ()  # each {secret: NAME} used, and where


@dataclass(frozen=True)
class Setting:
    name: str
    type: str
    description: str
    loc: Loc
    has_default: bool = False
    default: Any = None
    enum: tuple[Any, ...] | None = None
    items: str | None = None
    items_enum: tuple[Any, ...] | None = None
    minimum: Any = None
    maximum: Any = None
    pattern: str | None = None
    max_length: int | None = None
    choices_from: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Row:
    value: Any
    loc: Loc


@dataclass(frozen=True)
class TableRef:
    """What a table's values name in the QBO company: records of ``entity`` found by the field ``by`` (a
    template, e.g. ``{{ settings.account_match }}``), of the reference type ``type`` when given."""

    entity: str
    by: str
    loc: Loc
    type: str | None = None
    also_by: tuple[str, ...] = ()  # fields a value may hold instead, tried in turn


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    key_type: str
    value_type: str
    on_missing: str
    default: Any
    rows: Mapping[Any, Row]
    loc: Loc
    keys: tuple[Any, ...] | None = None
    refers_to: TableRef | None = None


@dataclass(frozen=True)
class Endpoint:
    connection: str
    entity: str
    loc: Loc
    entity_expr: Src | None = None
    entities: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        return self.entities if self.entity_expr is not None and self.entities else (self.entity,)


@dataclass(frozen=True)
class Unique:
    key: Src
    action: str = "report"


@dataclass(frozen=True)
class Refusal:
    """A hint the pack attaches to a target's refusal of this flow's writes (matched by fault code and/or a
    piece of the message, case-insensitive), shown in the error history instead of the generic one."""

    hint: str
    code: str | None = None
    contains: str | None = None


@dataclass(frozen=True)
class Gone:
    """What a flow writes to the target when its source record is gone (deleted at the source): the
    fields of an update of the record the ledger links, or a void/delete of it."""

    loc: Loc
    fields: ObjectValue | None = None
    action: str | None = None  # void or delete (targets that have them); None: update with `fields`
    description: str = ""


@dataclass(frozen=True)
class Guard:
    """A payload field that sets a record's state under a machine: the runtime checks each write of it
    against the machine's transitions from the record's current state (flow `guard`)."""

    machine: str
    field: str
    loc: Loc
    machine_loc: Loc
    field_loc: Loc


@dataclass(frozen=True)
class Operations:
    create: bool = True
    update: bool = True
    void_when: Src | None = None
    delete_when: Src | None = None
    owned_fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Child:
    kind: str
    loc: Loc
    when: Src | None = None
    each: Src | None = None
    name: str = "item"
    url: Src | None = None
    file_name: Src | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    source: Endpoint
    target: Endpoint
    key: Src
    fields: ObjectValue
    loc: Loc
    description: str = ""
    enabled: Src | None = None
    when: Src | None = None
    skip_reason: Src | None = None
    date: Src | None = None
    depends_on: tuple[str, ...] = ()
    match: tuple[tuple[str, Src], ...] = ()
    unique: Unique | None = None
    vars: tuple[tuple[str, ValueSpec], ...] = ()
    operations: Operations = Operations()
    children: tuple[Child, ...] = ()
    target_id: Src | None = None
    gone: Gone | None = None
    refusals: tuple[Refusal, ...] = ()
    guard: Guard | None = None


@dataclass(frozen=True)
class State:
    name: str
    loc: Loc
    final: bool = False
    run: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    loc: Loc
    when: Src | None = None


@dataclass(frozen=True)
class Trigger:
    kind: str  # "on", "schedule" or "manual"
    source: str  # the event, duration or action name
    loc: Loc
    when: Src | None = None
    fire: str | None = None
    goto: Src | None = None
    from_states: tuple[str, ...] | None = None
    run: tuple[str, ...] = ()


@dataclass(frozen=True)
class Machine:
    name: str
    initial: str
    states: Mapping[str, State]
    transitions: tuple[Transition, ...]
    triggers: tuple[Trigger, ...]
    loc: Loc
    description: str = ""
    records: Endpoint | None = None
    state_field: str | None = None
    initial_loc: Loc | None = None


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    message: Src
    loc: Loc
    description: str = ""
    when: Src | None = None
    entity: str | None = None
    where: tuple[tuple[str, Src], ...] = ()
    preference: str | None = None
    expect: Src | None = None
    hint: Src | None = None
    blocking: bool = True
    fix_create: str | None = None
    fix_fields: ObjectValue | None = None


@dataclass(frozen=True)
class Schedule:
    every: str | None = None
    start_date: str | None = None
    start_date_setting: str | None = None
    suspended_until: str | None = None
    first_sync: str | None = None  # "automatic" (default) or "manual": the service waits for a launch (G5)
    loc: Loc | None = None


@dataclass(frozen=True)
class RulePack:
    meta: PackMeta
    root: Path
    files: tuple[str, ...]
    secrets: Mapping[str, Loc]
    connections: Mapping[str, Connection]
    settings: Mapping[str, Setting]
    tables: Mapping[str, Table]
    flows: Mapping[str, Flow]
    machines: Mapping[str, Machine]
    checks: Mapping[str, Check]
    schedule: Schedule = Schedule()
    allowed_hosts: tuple[str, ...] = ()  # where attachment URLs in product data may be downloaded from
    private_hosts: tuple[str, ...] = ()  # the same, even on loopback/private/link-local addresses


@dataclass(frozen=True)
class TableChange:
    table: str
    loc: Loc
    add: Mapping[Any, Row] = field(default_factory=dict)
    replace: Mapping[Any, Row] = field(default_factory=dict)
    remove: tuple[tuple[Any, Loc], ...] = ()
    on_missing: str | None = None
    default: Any = None
    has_default: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    pack_ref: str
    file: str
    loc: Loc
    pack_ref_loc: Loc
    description: str = ""
    enabled: bool = True
    settings: Mapping[str, Row] = field(default_factory=dict)
    tables: Mapping[str, TableChange] = field(default_factory=dict)
    secrets: Mapping[str, Row] = field(default_factory=dict)
    connections: Mapping[str, Connection] = field(default_factory=dict)
    schedule: Schedule = Schedule()
    allowed_hosts: tuple[str, ...] = ()
    private_hosts: tuple[str, ...] = ()
