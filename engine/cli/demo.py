"""``passerelle demo``: the whole pipeline on a sample profile, offline.

Validates every pack under rules/, compiles the sample profile, reads its product records from
files and maps each one, printing what a sync would write (a dry run: nothing is written). Once
the sync runtime lands, this becomes a full sync on the embedded sandbox.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from connectors.file import read_records
from engine.build import freeze
from engine.cli.output import dumps, handle_errors, print_errors
from engine.cli.validate import validate_paths
from engine.context import NoLedger, PlaceholderReferenceData
from engine.errors import Loc, PasserelleError, RuleError
from engine.evaluate import evaluate
from engine.pipeline import find_profile, run_pipeline
from engine.resources import rules_dir

__all__ = ["demo"]


@click.command()
@click.option("--profile", "profile_spec", default="freshbooks/demo", show_default=True,
              help="Profile to run (PACK/CUSTOMER or a file).")
@click.option("--show-payloads/--no-show-payloads", default=False, help="Print every payload in full.")
@handle_errors
def demo(profile_spec: str, show_payloads: bool) -> None:
    """Validate the shipped packs and dry-run a sample profile on its file data."""
    errors, counts = validate_paths([rules_dir()])
    if print_errors(errors):
        raise SystemExit(1)
    click.echo(f"validated {counts['packs']} pack(s) and {counts['profiles']} profile(s) in {rules_dir()}")
    loaded = run_pipeline(find_profile(profile_spec))
    compiled = loaded.compiled
    click.echo(f"profile {loaded.profile.name if loaded.profile else '-'} over pack {compiled.name}: dry run, "
               "nothing is written\n")
    totals: Counter[str] = Counter()
    sched = loaded.resolved.schedule
    start = sched.start_date or (compiled.settings.get(sched.start_date_setting) if sched.start_date_setting else None)
    for flow in compiled.flows.values():
        if not flow.enabled:
            click.echo(f"flow {flow.name}: switched off by settings")
            continue
        conn = loaded.resolved.connections[flow.flow.source.connection]
        if conn.connector != "file":
            click.echo(f"flow {flow.name}: source {conn.name} is {conn.connector}, not a file - skipped offline")
            continue
        resource = conn.options["resources"].get(flow.flow.source.entity)
        if resource is None:
            raise PasserelleError([RuleError("E321", f"file connection has no resource {flow.flow.source.entity!r}",
                                             Loc(str(conn.loc)))])
        for record in read_records(Path(conn.base_dir), resource):
            result = evaluate(flow, freeze(record), compiled.settings, refs=PlaceholderReferenceData(), ledger=NoLedger())
            label = f"{result.entity} {result.key}"
            if start and result.date and result.date < str(start) and result.action != "error":
                totals["skip"] += 1
                click.echo(f"  ? skip   {label}: dated {result.date}, before the start date {start}")
                continue
            totals[result.action] += 1
            if result.action == "write":
                number = (result.payload or {}).get("DocNumber", "")
                click.echo(f"  + create {label} {number}".rstrip())
                for create in result.creates:
                    click.echo(f"      (first creates {create.entity} {create.by}={create.value})")
                if show_payloads:
                    click.echo(dumps(result.payload))
            elif result.action == "skip":
                click.echo(f"  ? skip   {label}: {result.reason}")
            elif result.action == "error":
                click.echo(f"  ! error  {label}: {result.error.message if result.error else ''}")
            else:
                click.echo(f"  - {result.action:<6} {label}")
    click.echo("\nsummary: " + ", ".join(f"{n} {a}" for a, n in sorted(totals.items())))
