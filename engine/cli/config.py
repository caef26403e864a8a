"""``passerelle config explain PROFILE``: every effective value and the file:line that set it."""

from __future__ import annotations

import click

from engine.build import thaw
from engine.cli.output import handle_errors
from engine.pipeline import find_profile, run_pipeline

__all__ = ["config"]


@click.group()
def config() -> None:
    """Inspect a customer profile's effective configuration."""


def _show(value: object) -> str:
    text = repr(thaw(value)) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


@config.command()
@click.argument("profile")
@handle_errors
def explain(profile: str) -> None:
    """Print each effective setting, table row, secret and connection with where it was set."""
    loaded = run_pipeline(find_profile(profile))
    resolved = loaded.resolved
    pack = resolved.pack
    who = f"profile {resolved.profile.name} ({resolved.profile.file})" if resolved.profile else "pack alone"
    click.echo(f"# {who} over pack {pack.meta.name} {pack.meta.version}")
    click.echo("\nsettings:")
    for name, eff in sorted(resolved.settings.items()):
        click.echo(f"  {name} = {_show(eff.value)}    [{eff.layer}] {eff.loc}")
    click.echo("\ntables:")
    for name, table in sorted(resolved.tables.items()):
        click.echo(f"  {name} (on_missing: {table.on_missing}):")
        for key, row in table.rows.items():
            layer = resolved.table_layers.get((name, key), "pack")
            click.echo(f"    {key!r} -> {_show(row.value)}    [{layer}] {row.loc}")
    click.echo("\nsecrets:")
    for name in sorted(pack.secrets):
        env = resolved.secrets.get(name)
        click.echo(f"  {name}: " + (f"from ${env}" if env else "not provided"))
    click.echo("\nconnections:")
    for name, conn in sorted(resolved.connections.items()):
        click.echo(f"  {name}: {conn.connector}    {conn.loc}")
    sched = resolved.schedule
    click.echo("\nschedule:")
    click.echo(f"  every = {sched.every or 'manual'}; start_date = {sched.start_date or '-'}; "
               f"suspended_until = {sched.suspended_until or '-'}; enabled = {resolved.enabled}")



@config.command()
@click.argument("profile")
@click.argument("setting")
@handle_errors
def choices(profile: str, setting: str) -> None:
    """List the values SETTING may take, read live from the QBO company (its `choices_from`); the profile's
    current value is marked, and an E820 located at the setting when it is not among them (the message lists
    them). `passerelle check` and every sync check the same (blocking)."""
    from engine.cli.session import open_session
    from engine.errors import PasserelleError, RuleError
    from engine.runtime.choices import check_choice, read_choices

    with open_session(profile, read_only=True) as session:
        resolved = session.loaded.resolved
        spec = resolved.pack.settings.get(setting)
        if spec is None or spec.choices_from is None:
            raise PasserelleError([RuleError("E812", f"setting {setting!r} of pack {resolved.pack.meta.name} reads no "
                                             "choices from QuickBooks (no choices_from)", None)])
        found = read_choices(spec, session.target) or []
        current = resolved.setting_values().get(setting)
        for choice in found:
            mark = "*" if str(current) == choice.value else " "
            click.echo(f"{mark} {choice.value}" + (f"    ({choice.label})" if choice.label != choice.value else ""))
        problem = check_choice(spec, current, found)
        if problem is None and current not in (None, "") and not found:
            problem = f"{current!r} is not one of the {spec.choices_from['entity']} records QuickBooks offers for " \
                      f"{setting}: QuickBooks offers none"
        if problem is not None:
            effective = resolved.settings.get(setting)
            raise PasserelleError([RuleError("E820", problem, effective.loc if effective is not None else None,
                                             hint=f"set {setting} to one of the values listed above")])
