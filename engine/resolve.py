"""Resolve: lay a customer profile over its pack and check that every name refers to something.

The result keeps, for each effective setting and table row, the file:line that set it, which is
what ``passerelle config explain`` prints. Settings are type-checked against the pack's declared
types; table changes must add new keys, replace existing ones and remove existing ones; every
referenced table, setting, state, flow, connection, secret, entity and QBO field must exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import jsonschema

from connectors.qbo.entities import ENTITIES
from engine.build import convert_cell, convert_key, thaw
from engine.errors import Loc, PasserelleError, RuleError
from engine.model import Connection as ConnectionModel
from engine.model import (
    EachValue,
    Endpoint,
    ExprValue,
    Flow,
    ListValue,
    LookupValue,
    ObjectValue,
    Profile,
    RefValue,
    Row,
    RulePack,
    Schedule,
    Setting,
    Table,
    TemplateValue,
    ValueSpec,
)
from engine.reftypes import REFERENCE_TYPES
from engine.validate import did_you_mean

__all__ = ["Effective", "ResolvedPack", "resolve"]


@dataclass(frozen=True)
class Effective:
    """An effective value and the layer and place that set it."""

    value: Any
    loc: Loc
    layer: str  # "pack default", "profile" or "unset"


@dataclass(frozen=True)
class ResolvedPack:
    pack: RulePack
    profile: Profile | None
    settings: Mapping[str, Effective]
    tables: Mapping[str, Table]
    connections: Mapping[str, ConnectionModel]
    secrets: Mapping[str, str]
    schedule: Schedule
    enabled: bool = True
    table_layers: Mapping[tuple[str, Any], str] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()  # the pack's and the profile's, for downloads (connectors/fetch.py)
    private_hosts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The profile's key in the state store: ``pack/profile`` (two packs' ``demo`` profiles stay apart)."""
        name = self.profile.name if self.profile is not None else self.pack.meta.name
        return f"{self.pack.meta.name}/{name}"

    def setting_values(self) -> Mapping[str, Any]:
        return MappingProxyType({name: eff.value for name, eff in self.settings.items()})


_JSON_TYPES = {"string": "string", "integer": "integer", "decimal": "number", "boolean": "boolean",
               "date": "string", "list": "array", "map": "object"}


def _setting_schema(setting: Setting) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[setting.type]}
    if setting.type == "date":
        schema["pattern"] = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        schema["format"] = "date"
    if setting.enum is not None:
        schema["enum"] = list(thaw(setting.enum))
    if setting.items:
        schema["items"] = {"type": _JSON_TYPES[setting.items]}
        if setting.items == "date":
            schema["items"]["format"] = "date"
        if setting.items_enum is not None:
            schema["items"]["enum"] = list(thaw(setting.items_enum))
    for key, target in (("minimum", "minimum"), ("maximum", "maximum"), ("pattern", "pattern"),
                        ("max_length", "maxLength")):
        if getattr(setting, key) is not None:
            schema[target] = getattr(setting, key)
    return schema


def _check_setting(setting: Setting, value: Any, loc: Loc, origin: str) -> list[RuleError]:
    if value is None and setting.type != "boolean":
        return []
    # The format checker turns `format: date` into a real calendar check (2024-13-45 is refused).
    validator = jsonschema.Draft202012Validator(_setting_schema(setting),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = []
    for error in validator.iter_errors(thaw(value)):
        detail = error.message.replace("Decimal(", "(")
        if error.validator == "format":
            detail = f"{error.instance!r} is not a valid date (YYYY-MM-DD, a real calendar day)"
        hint = None
        if error.validator == "enum" and isinstance(error.instance, str):
            hint = did_you_mean(error.instance, error.validator_value)
        errors.append(RuleError("E312", f"setting {setting.name!r} ({origin}): {detail}", loc, ("settings", setting.name),
                                hint=hint))
    return errors


def _normalise(setting: Setting, value: Any) -> Any:
    if setting.type == "decimal" and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _settings(pack: RulePack, profile: Profile | None, errors: list[RuleError]) -> dict[str, Effective]:
    out: dict[str, Effective] = {}
    given = profile.settings if profile else {}
    for name, row in given.items():
        if name not in pack.settings:
            errors.append(RuleError("E310", f"unknown setting {name!r} for pack {pack.meta.name!r}", row.loc,
                                    ("settings", name), hint=did_you_mean(name, pack.settings)))
    for name, setting in pack.settings.items():
        if setting.has_default:
            errors.extend(_check_setting(setting, setting.default, setting.loc, "default"))
        if name in given:
            row = given[name]
            errors.extend(_check_setting(setting, row.value, row.loc, "profile"))
            out[name] = Effective(_normalise(setting, row.value), row.loc, "profile")
        elif setting.has_default:
            out[name] = Effective(_normalise(setting, setting.default), setting.loc, "pack default")
        else:
            if profile is not None:
                errors.append(RuleError("E311", f"setting {name!r} has no default: profile {profile.name!r} must set "
                                        "it under `settings`", profile.loc, hint=f"{name}: {setting.description}"))
            out[name] = Effective(None, setting.loc, "unset")
    return out


def _tables(pack: RulePack, profile: Profile | None, errors: list[RuleError]
            ) -> tuple[dict[str, Table], dict[tuple[str, Any], str]]:
    tables = dict(pack.tables)
    layers: dict[tuple[str, Any], str] = {}
    for name, change in (profile.tables if profile else {}).items():
        table = tables.get(name)
        if table is None:
            errors.append(RuleError("E310", f"unknown table {name!r}", change.loc, ("tables", name),
                                    hint=did_you_mean(name, tables)))
            continue
        rows = dict(table.rows)

        def key_of(raw: Any, loc: Loc, table: Table = table) -> Any:  # type: ignore[assignment]
            try:
                return convert_key(raw, table.key_type)
            except ValueError as exc:
                errors.append(RuleError("E302", f"table {table.name!r}: {exc}", loc))
                return None

        for raw, row in change.add.items():
            key = key_of(raw, row.loc)
            if key is None:
                continue
            if key in rows:
                errors.append(RuleError("E313", f"table {name!r} already has a row {key!r} (at {rows[key].loc}): "
                                        "use `replace` to change it", row.loc))
                continue
            rows[key] = _row(table, row, errors)
            layers[(name, key)] = "profile add"
        for raw, row in change.replace.items():
            key = key_of(raw, row.loc)
            if key is None:
                continue
            if key not in rows:
                errors.append(RuleError("E314", f"table {name!r} has no row {key!r} to replace: use `add`", row.loc,
                                        hint=did_you_mean(str(key), map(str, rows))))
                continue
            rows[key] = _row(table, row, errors)
            layers[(name, key)] = "profile replace"
        for raw, loc in change.remove:
            key = key_of(raw, loc)
            if key is None:
                continue
            if key not in rows:
                errors.append(RuleError("E314", f"table {name!r} has no row {key!r} to remove", loc,
                                        hint=did_you_mean(str(key), map(str, rows))))
                continue
            del rows[key]
        updated = replace(table, rows=MappingProxyType(rows), on_missing=change.on_missing or table.on_missing)
        if change.has_default:
            try:
                updated = replace(updated, default=convert_cell(change.default, table.value_type))
            except ValueError as exc:
                errors.append(RuleError("E302", f"table {name!r} default: {exc}", change.loc))
        tables[name] = updated
    for table in tables.values():
        errors.extend(_table_domain(table))
    return tables, layers


def _row(table: Table, row: Row, errors: list[RuleError]) -> Row:
    try:
        return Row(convert_cell(row.value, table.value_type), row.loc)
    except ValueError as exc:
        errors.append(RuleError("E302", f"table {table.name!r}: {exc}", row.loc))
        return row


def _table_domain(table: Table) -> Iterator[RuleError]:
    ref = table.refers_to
    kind = REFERENCE_TYPES.get(ref.type) if ref is not None and ref.type else None
    if ref is not None and kind is not None and kind.entity != ref.entity:
        yield RuleError("E317", f"table {table.name!r}: type {ref.type!r} names {kind.entity} records, not {ref.entity}",
                        ref.loc, hint=f"use entity: {kind.entity}, or a type of {ref.entity}")
    if table.on_missing == "default" and table.default is None:
        yield RuleError("E316", f"table {table.name!r} has on_missing: default but no default value", table.loc)
    if table.keys is None:
        return
    domain = set(table.keys)
    for key, row in table.rows.items():
        if key not in domain:
            yield RuleError("E315", f"table {table.name!r}: key {key!r} is not one of its keys "
                            f"({', '.join(map(str, table.keys))})", row.loc, hint=did_you_mean(str(key), map(str, domain)))
    if table.on_missing == "error":
        gaps = [k for k in table.keys if k not in table.rows]
        if gaps:
            yield RuleError("E316", f"table {table.name!r} has no row for {', '.join(map(repr, gaps))} "
                            "(a gap: with on_missing: error every key needs a row)", table.loc,
                            hint="add the rows, or set on_missing to default or skip")


def _connections(pack: RulePack, profile: Profile | None, errors: list[RuleError]) -> dict[str, ConnectionModel]:
    out = dict(pack.connections)
    for name, conn in (profile.connections if profile else {}).items():
        if name not in out:
            errors.append(RuleError("E310", f"unknown connection {name!r}: a profile can only replace the pack's "
                                    "connections", conn.loc, hint=did_you_mean(name, out)))
            continue
        out[name] = conn
    return out


def _secrets(pack: RulePack, profile: Profile | None, connections: Mapping[str, ConnectionModel],
             errors: list[RuleError]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, row in (profile.secrets if profile else {}).items():
        if name not in pack.secrets:
            errors.append(RuleError("E310", f"unknown secret {name!r}", row.loc, hint=did_you_mean(name, pack.secrets)))
            continue
        out[name] = str(row.value)
    for conn in connections.values():
        for ref, loc in conn.secret_refs:
            if ref not in pack.secrets:
                errors.append(RuleError("E320", f"connection {conn.name!r} uses secret {ref!r}, which the pack "
                                        "does not declare under `secrets`", loc, hint=did_you_mean(ref, pack.secrets)))
    return out


def _entity_names(conn: ConnectionModel) -> tuple[str, ...]:
    if conn.connector == "qbo":
        return tuple(ENTITIES)
    resources = conn.options.get("resources") or {}
    return tuple(resources)


def _check_endpoint(endpoint: Endpoint, connections: Mapping[str, ConnectionModel], what: str) -> Iterator[RuleError]:
    conn = connections.get(endpoint.connection)
    if conn is None:
        yield RuleError("E320", f"{what}: unknown connection {endpoint.connection!r}", endpoint.loc,
                        hint=did_you_mean(endpoint.connection, connections))
        return
    names = _entity_names(conn)
    for entity in endpoint.candidates:
        if entity not in names:
            kind = "QBO entity" if conn.connector == "qbo" else f"resource of connection {conn.name!r}"
            yield RuleError("E321", f"{what}: unknown {kind} {entity!r}", endpoint.loc,
                            hint=did_you_mean(entity, names) or f"known: {', '.join(sorted(names))}")


def _values(spec: ValueSpec) -> Iterator[ValueSpec]:
    yield spec
    children: tuple[ValueSpec, ...] = ()
    if isinstance(spec, ObjectValue):
        children = tuple(v for _, v in spec.fields)
    elif isinstance(spec, EachValue):
        children = (spec.map,)
    elif isinstance(spec, ListValue):
        children = spec.items
    elif isinstance(spec, RefValue) and spec.create is not None:
        children = (spec.create,)
    for child in children:
        yield from _values(child)


def _check_flow(flow: Flow, pack: RulePack, tables: Mapping[str, Table],
                connections: Mapping[str, ConnectionModel]) -> Iterator[RuleError]:
    yield from _check_endpoint(flow.source, connections, f"flow {flow.name!r} from")
    yield from _check_endpoint(flow.target, connections, f"flow {flow.name!r} to")
    for dep in flow.depends_on:
        if dep not in pack.flows:
            yield RuleError("E320", f"flow {flow.name!r} depends on unknown flow {dep!r}", flow.loc,
                            hint=did_you_mean(dep, pack.flows))
    target = connections.get(flow.target.connection)
    if target is not None and target.connector == "qbo":
        for entity in flow.target.candidates:
            spec = ENTITIES.get(entity)
            if spec is None:
                continue
            for field_name, value in flow.fields.fields:
                if field_name not in spec.fields:
                    yield RuleError("E322", f"{entity} has no field {field_name!r}", _loc_of(value),
                                    hint=did_you_mean(field_name, spec.fields))
    roots = [v for _, v in flow.vars] + [flow.fields]
    for root in roots:
        for spec_value in _values(root):
            yield from _check_value(spec_value, pack, tables, connections)


def _loc_of(value: ValueSpec) -> Loc:
    if isinstance(value, (ExprValue, TemplateValue)):
        return value.src.loc
    return value.loc


def _check_value(value: ValueSpec, pack: RulePack, tables: Mapping[str, Table],
                 connections: Mapping[str, ConnectionModel]) -> Iterator[RuleError]:
    if isinstance(value, LookupValue) and value.table not in tables:
        yield RuleError("E301", f"unknown table {value.table!r}", value.loc, value.path,
                        hint=did_you_mean(value.table, tables))
    if isinstance(value, RefValue):
        if value.flow is not None and value.flow not in pack.flows:
            yield RuleError("E320", f"reference to unknown flow {value.flow!r}", value.loc, value.path,
                            hint=did_you_mean(value.flow, pack.flows))
        if value.connection is not None:
            yield from _check_source_ref(value, connections, pack.connections)
        elif value.entity is not None and value.entity not in ENTITIES:
            yield RuleError("E321", f"reference to unknown QBO entity {value.entity!r}", value.loc, value.path,
                            hint=did_you_mean(value.entity, ENTITIES))
        if value.on_missing == "create" and value.create is None:
            yield RuleError("E323", "on_missing: create needs `create` with the new record's fields", value.loc,
                            value.path)


def _check_source_ref(value: RefValue, connections: Mapping[str, ConnectionModel],
                      declared: Mapping[str, ConnectionModel]) -> Iterator[RuleError]:
    """`ref: {connection}` finds a record of another resource of a source connection, never of QBO's. The
    resource is checked against the pack's declaration: a profile's replacement (files for a replay or a
    demo) may leave it out, and then has no records to find."""
    conn = declared.get(value.connection or "") or connections.get(value.connection or "")
    if conn is None or conn.connector == "qbo":
        known = sorted(n for n, c in connections.items() if c.connector != "qbo")
        why = "is a QBO connection: leave `connection` out" if conn is not None else "is not a connection"
        yield RuleError("E320", f"ref: {value.connection!r} {why}", value.loc, value.path,
                        hint=did_you_mean(value.connection or "", known) or f"product connections: {', '.join(known)}")
        return
    names = _entity_names(conn)
    if value.entity not in names:
        yield RuleError("E321", f"ref: unknown resource {value.entity!r} of connection {conn.name!r}", value.loc,
                        value.path, hint=did_you_mean(value.entity or "", names) or f"known: {', '.join(sorted(names))}")
    if value.create is not None or value.on_missing == "create":
        yield RuleError("E323", "ref: records of a source connection are found, never created", value.loc, value.path)


def _check_machines(pack: RulePack, connections: Mapping[str, ConnectionModel]) -> Iterator[RuleError]:
    for machine in pack.machines.values():
        if machine.records is not None:
            yield from _check_endpoint(machine.records, connections, f"machine {machine.name!r} records")
        for state in machine.states.values():
            for flow in state.run:
                if flow not in pack.flows:
                    yield RuleError("E320", f"state {state.name!r} runs unknown flow {flow!r}", state.loc,
                                    hint=did_you_mean(flow, pack.flows))
        for trigger in machine.triggers:
            for flow in trigger.run:
                if flow not in pack.flows:
                    yield RuleError("E320", f"trigger runs unknown flow {flow!r}", trigger.loc,
                                    hint=did_you_mean(flow, pack.flows))
            if trigger.kind == "on":
                conn = trigger.source.split(":", 1)[0]
                if conn not in connections:
                    yield RuleError("E320", f"event {trigger.source!r} names unknown connection {conn!r}",
                                    trigger.loc, hint=did_you_mean(conn, connections))


def _check_schedule(pack: RulePack, schedule: Schedule) -> Iterator[RuleError]:
    name = schedule.start_date_setting
    if name is not None:
        setting = pack.settings.get(name)
        if setting is None:
            yield RuleError("E320", f"start_date_setting names unknown setting {name!r}", schedule.loc or Loc(""),
                            hint=did_you_mean(name, pack.settings))
        elif setting.type != "date":
            yield RuleError("E312", f"start_date_setting {name!r} must be a date setting, not {setting.type}",
                            setting.loc)


def _check_checks(pack: RulePack) -> Iterator[RuleError]:
    for check in pack.checks.values():
        for entity in (check.entity, check.fix_create):
            if entity is not None and entity not in ENTITIES:
                yield RuleError("E321", f"check {check.name!r}: unknown QBO entity {entity!r}", check.loc,
                                hint=did_you_mean(entity, ENTITIES))
        if check.kind == "exists" and check.entity is None:
            yield RuleError("E201", f"check {check.name!r} of kind exists needs `entity`", check.loc)
        if check.kind == "preference" and (check.preference is None or check.expect is None):
            yield RuleError("E201", f"check {check.name!r} of kind preference needs `preference` and `expect`",
                            check.loc)


def resolve(pack: RulePack, profile: Profile | None = None) -> ResolvedPack:
    """The pack with the profile laid over it; raises ``PasserelleError`` with every problem."""
    errors: list[RuleError] = []
    settings = _settings(pack, profile, errors)
    tables, layers = _tables(pack, profile, errors)
    connections = _connections(pack, profile, errors)
    secrets = _secrets(pack, profile, connections, errors)
    for flow in pack.flows.values():
        errors.extend(_check_flow(flow, pack, tables, connections))
    errors.extend(_check_machines(pack, connections))
    errors.extend(_check_checks(pack))
    base, over = pack.schedule, profile.schedule if profile else Schedule()
    schedule = Schedule(every=over.every or base.every, start_date=over.start_date or base.start_date,
                        start_date_setting=base.start_date_setting, suspended_until=over.suspended_until,
                        first_sync=over.first_sync or base.first_sync or "automatic",
                        loc=over.loc if profile and (over.every or over.start_date) else base.loc)
    errors.extend(_check_schedule(pack, schedule))
    if errors:
        raise PasserelleError(errors)
    return ResolvedPack(pack=pack, profile=profile, settings=MappingProxyType(settings),
                        tables=MappingProxyType(tables), connections=MappingProxyType(connections),
                        secrets=MappingProxyType(secrets), schedule=schedule,
                        enabled=profile.enabled if profile else True, table_layers=MappingProxyType(layers),
                        allowed_hosts=_union(pack.allowed_hosts, profile.allowed_hosts if profile else ()),
                        private_hosts=_union(pack.private_hosts, profile.private_hosts if profile else ()))


def _union(*lists: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(host for hosts in lists for host in hosts))


