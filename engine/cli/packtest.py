"""``passerelle test [PACK] [--update] [--base REV|PATH]``: run rule packs' snapshot cases (``<pack>/cases/<case>/``).

One line per case, the diff of any case whose plan changed, a summary. Exit 1 on a failure, a
malformed case, or when nothing was found to run: a pack without cases must not pass silently.
With ``--base``, each case is also planned with the packs and profiles at that git revision (or
folder), and the cases whose plans the edit changes are listed with the diff base -> now: what
``--update`` would accept that comes from the edit.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import click

from engine.basetree import open_base
from engine.cli.impact import default_rules
from engine.cli.output import handle_errors
from engine.impact import CaseDelta, PackLoader, case_delta
from engine.packtest import CaseResult, discover_cases, find_pack, run_case

__all__ = ["test"]


def _report(result: CaseResult, update: bool) -> None:
    if result.errors:
        click.echo(f"FAILED {result.id}: the case cannot run")
        for error in result.errors:
            click.echo("  " + error.format().replace("\n", "\n  "))
    elif update and result.updated:
        names = ", ".join(p.name for p in result.updated)
        click.echo(f"updated {result.id} ({names}): review the diff before committing")
    elif result.ok:
        click.echo(f"ok     {result.id}")
    else:
        click.echo(f"FAILED {result.id}")
        click.echo(result.diff(), nl=False)


@click.command()
@click.argument("pack", required=False)
@click.option("--update", is_flag=True, help="Rewrite the expected files with what the cases produce now.")
@click.option("--base", help="Also show which cases' plans the edit since this git revision (or folder) changes.")
@handle_errors
def test(pack: str | None, update: bool, base: str | None) -> None:
    """Run the snapshot cases of PACK (a name under rules/ or a folder), or of every pack."""
    root = default_rules()  # ./rules in a pack repository, else the shipped packs
    where = f"{find_pack(pack, root)}/cases" if pack else f"{root}/*/cases"
    folders = discover_cases(pack, root)
    if not folders:
        click.echo(f"no cases found in {where}", err=True)
        click.echo("hint: a case is a folder <pack>/cases/<case>/ with case.yaml; see docs/cases.md", err=True)
        sys.exit(1)
    rules = folders[0].parent.parent.parent
    deltas: list[CaseDelta] = []
    results: list[CaseResult] = []
    opened: AbstractContextManager[Path | None] = open_base(base, rules) if base else nullcontext()
    with opened as base_root:
        head_load, base_load = PackLoader(), PackLoader()
        for folder in folders:
            if base_root is not None:  # before --update rewrites the expected files
                deltas.append(case_delta(folder, rules, base_root, head_load, base_load))
            result = run_case(folder, update=update)
            _report(result, update)
            if deltas and deltas[-1].changed:
                _report_delta(deltas[-1], result, base or "")
            results.append(result)
    failed = [r for r in results if not r.ok]
    updated = sum(1 for r in results if r.updated)
    summary = f"\n{len(results)} case(s): {len(results) - len(failed)} passed, {len(failed)} failed"
    if base:
        summary += f", {sum(1 for d in deltas if d.changed)} changed by the edit since {base}"
    click.echo(summary + (f", {updated} updated" if update else ""))
    if failed:
        sys.exit(1)


def _report_delta(delta: CaseDelta, result: CaseResult, base: str) -> None:
    """Why the case's plan differs: the edit (its diff, unless it is the diff just printed) or not."""
    if delta.errors:
        click.echo(f"  the case cannot be planned at {base}:")
        for error in delta.errors:
            click.echo("    " + error.format().replace("\n", "\n    "))
        return
    about = f"  the edit since {base} changes this case's plan" + (f" ({delta.note})" if delta.note else "")
    if not result.updated and result.files and all(delta.before.get(f.path.name) == f.expected for f in result.files):
        click.echo(about + ": the diff above is all the edit's (the base plans the case as expected)")
        return
    click.echo(about + " (base -> now):")
    click.echo(delta.diff(), nl=False)
