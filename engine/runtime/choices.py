"""Choices of a setting read live from the QBO company (``choices_from`` in a pack's settings).

A pack declares where the allowed values of a setting come from, e.g. a bank account picked among the
company's bank accounts::

    payment_account: {type: string, choices_from: {entity: Account, where: {AccountType: Bank}, value: Name, label: Name}}

:func:`read_choices` lists them from any reference data that can list an entity's records (the QBO
connector's cache does: every page, inactive records too, which are left out here); :func:`check_choice`
says whether a value is one of them. Generic: nothing here knows a product or an entity. Shared by the
console's settings form and the CLI (``passerelle config choices``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.model import Setting

__all__ = ["Choice", "ChoiceReader", "check_choice", "choices_of", "field_at", "read_choices", "same_value"]


class ChoiceReader(Protocol):
    """What choices are read from: every record of an entity (the QBO reference data)."""

    def records(self, entity: str) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def field_at(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of a record (None when a step is missing)."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def same_value(found: Any, wanted: Any) -> bool:
    """A record's value equals a declared one (booleans also as "true"/"false" text)."""
    if isinstance(wanted, bool) or isinstance(found, bool):
        return found is wanted or str(found).lower() == str(wanted).lower()
    return found is not None and str(found) == str(wanted)


def choices_of(spec: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> list[Choice]:
    """The active records matching ``spec['where']`` as choices (value and label fields, by label), deduplicated."""
    where: Mapping[str, Any] = spec.get("where") or {}
    value_field, label_field = str(spec.get("value") or "Id"), str(spec.get("label") or "Name")
    seen: dict[str, Choice] = {}
    for record in records:
        if record.get("Active", True) is False:
            continue
        if not all(same_value(field_at(record, name), wanted) for name, wanted in where.items()):
            continue
        value = field_at(record, value_field)
        if value is None or value == "":
            continue
        label = field_at(record, label_field)
        seen.setdefault(str(value), Choice(str(value), str(label if label not in (None, "") else value)))
    return sorted(seen.values(), key=lambda c: (c.label.casefold(), c.value))


def read_choices(setting: Setting, reader: Any) -> list[Choice] | None:
    """The choices of ``setting`` from ``reader`` (reference data with ``records(entity)``, or a target whose
    ``reference_data()`` has it); None when the setting declares no ``choices_from``."""
    spec = setting.choices_from
    if spec is None:
        return None
    source = reader if callable(getattr(reader, "records", None)) else reader.reference_data()
    records = getattr(source, "records", None)
    if not callable(records):
        raise TypeError("these reference data cannot list records; choices need a QBO connection")
    return choices_of(spec, records(str(spec["entity"])))


def check_choice(setting: Setting, value: Any, choices: Sequence[Choice]) -> str | None:
    """None when ``value`` is allowed, else the message (with the list). An empty value is always allowed
    (a setting may be left empty, e.g. an optional account); so is any value when no choice could be read."""
    if value in (None, "") or not choices:
        return None
    allowed = [c.value for c in choices]
    if str(value) in allowed:
        return None
    shown = ", ".join(allowed[:20]) + (f" … ({len(allowed)} in all)" if len(allowed) > 20 else "")
    entity = setting.choices_from["entity"] if setting.choices_from else "QuickBooks"
    return f"{value!r} is not one of the {entity} records QuickBooks offers for {setting.name}: {shown}"
