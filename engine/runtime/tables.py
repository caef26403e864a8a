"""Tables checked against the QBO company: every value that names a QBO record must name a real one.

A table whose values name QBO records declares it (``refers_to: {entity, by, type}``); each of its
effective rows (the pack's, with the profile's changes) and its default is looked up in the company's
reference data, inactive records included, and must exist, be active and, with ``type``, be of the
right kind (``engine.reftypes``). Given which keys source records looked up (``TableUsage``), rows no
record reaches and keys no row covers are listed too. Findings are ``RuleError`` values located at the
row (file:line:col of the pack's or the profile's line), like ``validate``'s: errors for what breaks a
sync, warnings for what is only worth a look.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.context import field_values
from engine.errors import Loc, RuleError
from engine.expressions import ExprEnv
from engine.model import Src, Table, TableRef
from engine.reftypes import REFERENCE_TYPES
from engine.resolve import ResolvedPack
from engine.runtime.choices import Choice
from engine.templates import compile_template
from engine.validate import did_you_mean

__all__ = ["TableUsage", "check_row_choice", "check_table_refs", "check_table_usage", "table_choices", "table_ref_field"]

_LAYERS = {"profile add": "the row is added by the profile", "profile replace": "the row is replaced by the profile"}
TableUsage = Mapping[str, Mapping[Any, tuple[str, ...]]]  # table -> key looked up -> where (cases, records)


def table_ref_field(ref: TableRef, settings: Mapping[str, Any]) -> str | RuleError:
    """The field the values hold (``by`` rendered with the profile's settings), or why it cannot be known."""
    if "{" not in ref.by:
        return ref.by
    compiled = compile_template(Src(ref.by, ref.loc, ("refers_to", "by")), ExprEnv(frozenset({"settings"})))
    if isinstance(compiled, list):
        return compiled[0]
    return compiled({"settings": settings})


def _records(refs: Any, entity: str) -> list[Mapping[str, Any]] | None:
    records = getattr(refs, "records", None)
    return list(records(entity)) if callable(records) else None


def _named(records: list[Mapping[str, Any]], by: str, value: Any, also_by: tuple[str, ...] = ()
           ) -> list[Mapping[str, Any]]:
    """The records whose ``by`` holds ``value``; else those whose first field of ``also_by`` that matches does."""
    for field in (by, *also_by):
        found = [r for r in records if str(value) in {str(v) for v in field_values(r, field)}]
        if found:
            return found
    return []


def _check_value(table: Table, ref: TableRef, by: str, what: str, value: Any, *, loc: Loc,
                 records: list[Mapping[str, Any]], layer: str) -> Iterator[RuleError]:
    found = _named(records, by, value, ref.also_by)
    active = [r for r in found if r.get("Active", True) is not False]
    name = f"{ref.entity} with {by} {str(value)!r}"
    note = (_LAYERS.get(layer, layer),) if layer else ()
    if not found:
        near = sorted({str(r.get(by)) for r in records if r.get("Active", True) is not False and r.get(by) is not None})
        yield RuleError("E830", f"table {table.name!r} {what}: no {name} in the QBO company", loc, notes=note,
                        hint=did_you_mean(str(value), near) or f"create it in QuickBooks, or change the {what}")
        return
    if not active:
        yield RuleError("E831", f"table {table.name!r} {what}: the {name} is inactive in the QBO company", loc,
                        notes=note, hint=f"reactivate it in QuickBooks, or point the {what} at an active {ref.entity}")
        return
    kind = REFERENCE_TYPES.get(ref.type) if ref.type else None
    if kind is not None and not any(kind.accepts(r) for r in active):
        yield RuleError("E832", f"table {table.name!r} {what}: the {name} is {kind.describe(active[0])}, "
                        f"{kind.wanted} is needed", loc, notes=note,
                        hint=f"point the {what} at {kind.wanted}")


def check_table_refs(resolved: ResolvedPack, refs: Any) -> list[RuleError]:
    """Every row value (and default) of the tables that declare ``refers_to``, against the company's records.

    ``refs`` is the target's reference data; it must list records (``records(entity)``, inactive ones
    included), as the QBO reference cache and a case's reference data do."""
    errors: list[RuleError] = []
    settings = resolved.setting_values()
    for table in resolved.tables.values():
        ref = table.refers_to
        if ref is None:
            continue
        by = table_ref_field(ref, settings)
        if isinstance(by, RuleError):
            errors.append(by)
            continue
        records = _records(refs, ref.entity)
        if records is None:
            errors.append(RuleError("E833", f"table {table.name!r}: the QBO company's {ref.entity} records cannot be "
                                    "listed, so its rows were not checked", ref.loc, severity="warning"))
            continue
        for key, row in table.rows.items():
            if row.value is None or row.value == "":
                continue
            layer = resolved.table_layers.get((table.name, key), "")
            errors += _check_value(table, ref, by, f"row {key!r}", row.value, loc=row.loc, records=records, layer=layer)
        if table.on_missing == "default" and table.default not in (None, ""):
            errors += _check_value(table, ref, by, "default", table.default, loc=ref.loc, records=records, layer="")
    return errors


def check_table_usage(resolved: ResolvedPack, usage: TableUsage, *, inputs: str = "the cases") -> list[RuleError]:
    """Rows no source value reached and looked-up keys no row covers (warnings), for the tables records read."""
    errors: list[RuleError] = []
    for table in resolved.tables.values():
        seen = usage.get(table.name)
        if seen is None:
            if table.rows:
                errors.append(RuleError("E834", f"table {table.name!r}: no record of {inputs} looks it up, so whether "
                                        f"its {len(table.rows)} row(s) are reached is unknown", table.loc,
                                        severity="warning"))
            continue
        for key, row in table.rows.items():
            if key not in seen:
                errors.append(RuleError("E834", f"table {table.name!r} row {key!r}: no record of {inputs} reaches it",
                                        row.loc, severity="warning",
                                        hint="a row for a value the product never sends; remove it, or add a case "
                                             "with such a record"))
        for key, where in seen.items():
            if key in table.rows:
                continue
            policy = {"default": f"the default {table.default!r} is used", "skip": "the record is skipped",
                      "error": "the record fails"}.get(table.on_missing, table.on_missing)
            shown = ", ".join(where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
            errors.append(RuleError("E835", f"table {table.name!r} has no row for {key!r} ({policy}), looked up "
                                    f"by {shown}", table.loc, severity="warning",
                                    hint=f"add a row {key!r} to the table (pack or profile)"))
    return errors


def table_choices(table: Table, settings: Mapping[str, Any], refs: Any) -> list[Choice] | None:
    """The values a row of ``table`` may take, read from the company: its ``refers_to`` entity's active records
    of the right kind, by the field the values hold. None when the table names no QBO record; the console's
    table form and `passerelle table choices` offer these."""
    ref = table.refers_to
    if ref is None:
        return None
    by = table_ref_field(ref, settings)
    records = _records(refs, ref.entity)
    if isinstance(by, RuleError) or records is None:
        return []
    kind = REFERENCE_TYPES.get(ref.type) if ref.type else None
    seen: dict[str, Choice] = {}
    for record in records:
        if record.get("Active", True) is False or (kind is not None and not kind.accepts(record)):
            continue
        values = field_values(record, by)
        value = values[0] if values else None
        if value in (None, ""):
            continue
        name = record.get("FullyQualifiedName") or record.get("Name") or record.get("DisplayName")
        label = f"{value} · {name}" if name not in (None, "") and str(name) != str(value) else str(value)
        seen.setdefault(str(value), Choice(str(value), label))
    return sorted(seen.values(), key=lambda c: (c.label.casefold(), c.value))


def check_row_choice(table: Table, key: Any, value: Any, choices: list[Choice] | None) -> str | None:
    """None when ``value`` may be the row's value, else why (with the values QuickBooks offers). Empty values
    and tables whose choices could not be read are not refused here (`check --tables` still looks)."""
    if value in (None, "") or not choices:
        return None
    allowed = [c.value for c in choices]
    if str(value) in allowed:
        return None
    ref = table.refers_to
    what = f"{ref.entity} records" if ref is not None else "values"
    shown = ", ".join(allowed[:20]) + (f" … ({len(allowed)} in all)" if len(allowed) > 20 else "")
    return f"table {table.name!r} row {key!r}: {str(value)!r} is not one of the {what} QuickBooks offers: {shown}"

