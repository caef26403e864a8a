"""``passerelle test [PACK] [--update]``: run rule packs' snapshot cases (``<pack>/cases/<case>/``).

One line per case, the diff of any case whose plan changed, a summary. Exit 1 on a failure, a
malformed case, or when nothing was found to run: a pack without cases must not pass silently.
"""

from __future__ import annotations

import sys

import click

from engine.cli.output import handle_errors
from engine.packtest import CaseResult, discover_cases, find_pack, run_case
from engine.resources import rules_dir

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
@handle_errors
def test(pack: str | None, update: bool) -> None:
    """Run the snapshot cases of PACK (a name under rules/ or a folder), or of every pack."""
    where = f"{find_pack(pack)}/cases" if pack else f"{rules_dir()}/*/cases"
    folders = discover_cases(pack)
    if not folders:
        click.echo(f"no cases found in {where}", err=True)
        click.echo("hint: a case is a folder <pack>/cases/<case>/ with case.yaml; see docs/cases.md", err=True)
        sys.exit(1)
    results = []
    for folder in folders:
        result = run_case(folder, update=update)
        _report(result, update)
        results.append(result)
    failed = [r for r in results if not r.ok]
    updated = sum(1 for r in results if r.updated)
    summary = f"\n{len(results)} case(s): {len(results) - len(failed)} passed, {len(failed)} failed"
    click.echo(summary + (f", {updated} updated" if update else ""))
    if failed:
        sys.exit(1)
