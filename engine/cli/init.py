"""``passerelle init NAME``: a new rule pack that validates and passes its case at once."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.output import handle_errors, print_errors
from engine.cli.validate import validate_paths
from engine.packtest import run_case
from engine.scaffold import scaffold

__all__ = ["init"]


@click.command()
@click.argument("name")
@click.option("--rules", "rules", type=click.Path(path_type=Path), default=Path("rules"), show_default=True,
              help="The folder of packs to create it in.")
@handle_errors
def init(name: str, rules: Path) -> None:
    """Create a new rule pack NAME: one flow (product invoices -> QBO invoices), a setting, a table, a demo
    profile and one case, then validate it and record the case's plan. docs/tutorial.md goes on from here.

    \b
    Example:
      passerelle init acme
      passerelle plan acme/demo        # against the sandbox: see docs/tutorial.md
    """
    folder = scaffold(name, rules)
    errors, counts = validate_paths([folder])
    if print_errors(errors):
        sys.exit(1)
    result = run_case(folder / "cases" / "first_sync", update=True)
    if not result.ok:
        print_errors(result.errors)
        sys.exit(1)
    click.echo(f"created {folder}: {counts['packs']} pack, {counts['profiles']} profile, 1 case (plan recorded in "
               f"{folder / 'cases' / 'first_sync' / 'expected.txt'})")
    click.echo(f"next: passerelle test {name}   then docs/tutorial.md: a first sync on the sandbox")
