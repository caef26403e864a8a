"""Plans as text (Terraform-style) and as versioned JSON; JSON plans load back for ``apply``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from engine.runtime.canonical import to_plain
from engine.runtime.plan import Change, Plan, summary
from engine.runtime.plan_json import change_data, plan_from_json

__all__ = ["iter_text", "plan_from_json", "plan_to_json", "render_text"]

_SIGNS = {"create": "+", "adopt": "=", "update": "~", "void": "-", "delete": "-", "conflict": "!", "skip": "?",
          "error": "x", "attach": "^", "resolve": "*"}
_VERBS = {"create": "to create", "adopt": "to adopt", "update": "to update", "void": "to void",
          "delete": "to delete", "conflict": "conflicts", "skip": "skipped", "error": "errors",
          "attach": "attachments to send again", "resolve": "errors to close", "unchanged": "unchanged"}


def _value(value: Any) -> str:
    text = json.dumps(to_plain(value), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 70 else text[:67] + "..."


def _line(change: Change) -> str:
    sign = _SIGNS[change.action]
    what = f"{change.entity} {change.label or change.key}".rstrip()
    origin = f"({change.flow} {change.key})"
    if change.action in ("skip", "error", "conflict"):
        return f"{sign} {change.action} {what} {origin}: {change.reason}"
    extra = f": {change.reason}" if change.reason else ""
    return f"{sign} {change.action} {what} {origin}{extra}"


def render_text(plan: Plan, *, color: bool = False, details: bool = True) -> str:
    """The plan for people: one line per change, the fields of creates and the changed fields of updates (before
    -> after), a summary per entity."""
    return "".join(iter_text(plan, color=color, details=details))


def iter_text(plan: Plan, *, color: bool = False, details: bool = True) -> Iterator[str]:
    """``render_text`` a change at a time (each piece whole lines), so a plan of 100k creates is printed
    without its text being built whole first."""
    paint = _colour if color else _plain
    head = f"Plan for profile {plan.profile} (pack {plan.pack} {plan.pack_version})"
    lines = [head]
    if not plan.enabled:
        lines.append("The integration is switched off for this profile (enabled: false): nothing is planned.")
    if plan.first_sync:
        docs = plan.count("create") + plan.count("adopt")
        lines.append(f"First sync: {docs} document(s) would be sent (nothing is written by a plan).")
    lines.append("")
    yield paint(lines)
    for change in plan.changes:
        lines = [_line(change)]
        for create in change.creates:
            lines.append(f"    + first create {create['entity']} {create['by']}={create['value']!r}")
        for attachment in change.attachments:
            lines.append(f"    + attach {attachment['file_name']}")
        if details and change.action in ("update", "adopt"):
            lines.extend(f"    {d.field}: {_value(d.before)} -> {_value(d.after)}" for d in change.diffs)
        elif details and change.action == "create":  # what would be sent, field by field (as Terraform shows)
            lines.extend(f"    {d.field}: {_value(d.after)}" for d in change.diffs)
        yield paint(lines)
    lines = []
    if not plan.has_changes:
        lines.append("No changes." if not plan.changes else "No changes to write.")
    lines.append("")
    lines.append("Summary:")
    for entity, counts in summary(plan).items():
        parts = [f"{counts[action]} {_VERBS[action]}" for action in (*_SIGNS, "unchanged") if counts.get(action)]
        lines.append(f"  {entity}: {', '.join(parts)}")
    yield paint(lines)


def _plain(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _colour(lines: list[str]) -> str:
    import click

    colours = {"+": "green", "~": "yellow", "-": "red", "!": "magenta", "x": "red", "?": "bright_black",
               "=": "cyan"}
    out = []
    for line in lines:
        colour = colours.get(line[:1]) if line[1:2] == " " else None
        out.append((click.style(line, fg=colour) if colour else line) + "\n")
    return "".join(out)


def plan_to_json(plan: Plan) -> str:
    data = to_plain({f.name: getattr(plan, f.name) for f in fields(Plan) if f.name != "changes"})
    data["changes"] = [change_data(change) for change in plan.changes]
    if data.get("enabled", True):
        data.pop("enabled", None)  # written only for a profile switched off
    for change in data["changes"]:
        if not change.get("numbers"):
            change.pop("numbers", None)  # written only for product writes carrying numbers
    data["summary"] = summary(plan)
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
