"""``passerelle explain PROFILE RECORD.json``: map one record offline and show its trace."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from engine.build import freeze
from engine.cli.output import dumps, handle_errors
from engine.context import NoLedger, PlaceholderReferenceData, ReferenceData, StaticReferenceData
from engine.errors import Loc, PasserelleError, RuleError
from engine.evaluate import evaluate
from engine.pipeline import find_profile, run_pipeline
from engine.runtime.canonical import to_plain

__all__ = ["explain", "read_json"]


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise PasserelleError([RuleError("E100", f"cannot read file: {exc.strerror}", Loc(str(path)))]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line, col = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else (1, 1)
        raise PasserelleError([RuleError("E100", f"not valid JSON: {exc}", Loc(str(path), line, col))]) from None


@click.command()
@click.argument("profile")
@click.argument("record", type=click.Path(path_type=Path))
@click.option("--flow", "flow_name", help="The flow to run (default: the first enabled flow from the product side).")
@click.option("--refs", type=click.Path(path_type=Path), help="QBO reference data as JSON {Entity: [records]}.")
@handle_errors
def explain(profile: str, record: Path, flow_name: str | None, refs: Path | None) -> None:
    """Map one record offline: print the payload and which rule set each field."""
    loaded = run_pipeline(find_profile(profile))
    flows = loaded.compiled.flows
    if flow_name is None:
        candidates = [f for f in flows.values() if f.enabled
                      and loaded.resolved.connections[f.flow.source.connection].connector != "qbo"]
        if not candidates:
            raise PasserelleError([RuleError("E110", "no enabled flow reads from the product side; use --flow", None)])
        flow = candidates[0]
    elif flow_name in flows:
        flow = flows[flow_name]
    else:
        raise PasserelleError([RuleError("E110", f"unknown flow {flow_name!r}; flows: {', '.join(flows)}", None)])
    data = read_json(record)
    if not isinstance(data, dict):
        raise PasserelleError([RuleError("E100", "the record file must hold one JSON object", Loc(str(record), 1, 1))])
    reference: ReferenceData = PlaceholderReferenceData()
    if refs is not None:
        reference = StaticReferenceData(read_json(refs))
    result = evaluate(flow, freeze(data), loaded.compiled.settings, refs=reference, ledger=NoLedger(), trace=True)
    click.echo(f"flow {flow.name} -> {result.entity} ({result.action}) key={result.key}")
    if result.error is not None:
        raise PasserelleError([result.error])
    if result.reason:
        click.echo(f"skip: {result.reason}")
    if result.payload is not None:
        click.echo(dumps(result.payload))
    for create in result.creates:
        click.echo(f"+ would first create {create.entity} {create.by}={create.value}: {dumps(create.fields)}")
    if result.trace:
        click.echo("\ntrace:")
        var_texts = {name: _spec_text(spec) for name, spec in flow.flow.vars}
        for entry in result.trace:
            click.echo(f"  {entry.target:<40} {entry.kind:<9} {entry.rule}  {entry.detail}")
            for name in _settings_in(entry.detail, var_texts):
                eff = loaded.resolved.settings.get(name)
                if eff is not None:
                    click.echo(f"  {'':<40} {'setting':<9} {eff.loc}  settings.{name} = {_short(eff.value)} "
                               f"[{eff.layer}]")


_SETTING = re.compile(r"\bsettings\.([A-Za-z_]\w*)|\bsettings\[\s*['\"]([^'\"]+)['\"]\s*\]")
_VAR = re.compile(r"\bvars\.([A-Za-z_]\w*)")


def _spec_text(spec: Any) -> str:
    src = getattr(spec, "src", None)
    return str(getattr(src, "text", "")) if src is not None else ""


def _settings_in(text: str, var_texts: dict[str, str], seen: frozenset[str] = frozenset()) -> list[str]:
    """The settings a traced rule reads, also through the `vars` it reads (each var's own rule), in order."""
    found = [a or b for a, b in _SETTING.findall(text)]
    for var in _VAR.findall(text):
        if var in var_texts and var not in seen:
            found.extend(_settings_in(var_texts[var], var_texts, seen | {var}))
    return list(dict.fromkeys(found))


def _short(value: Any) -> str:
    text = json.dumps(to_plain(value), ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
