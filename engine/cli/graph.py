"""``passerelle graph PACK``: the pack's machines as Mermaid state diagrams."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.output import handle_errors
from engine.errors import Loc, PasserelleError, RuleError
from engine.machines import mermaid
from engine.pipeline import load_pack
from engine.resources import rules_dir

__all__ = ["graph", "pack_path"]


def pack_path(spec: str) -> Path:
    path = Path(spec)
    if path.exists():
        return path
    for base in (Path("rules"), rules_dir()):
        if (base / spec / "pack.yaml").is_file():
            return base / spec
    raise PasserelleError([RuleError("E110", f"pack {spec!r} not found", Loc(spec))])


@click.command()
@click.argument("pack")
@handle_errors
def graph(pack: str) -> None:
    """Print a pack's state machines as Mermaid (a pack folder, file or name)."""
    loaded = load_pack(pack_path(pack))
    if not loaded.machines:
        click.echo(f"%% pack {loaded.meta.name} has no machines")
        return
    for name, machine in loaded.machines.items():
        click.echo(f"%% machine {name}: {machine.description}".rstrip(": "))
        click.echo(mermaid(machine))
