"""``passerelle table``: a profile's rows of the pack's tables, changed from the command line.

The same writer as the console's table form (``engine.console.overlay.save_table``): the profile's
``tables:`` block holds what differs from the pack, and the result is validated like ``validate`` before
the file is replaced. Values of a table that names QBO records (``refers_to``) must be among the records
the company offers (``table choices`` lists them).
"""

from __future__ import annotations

from typing import Any

import click

from engine.build import thaw
from engine.cli.output import handle_errors
from engine.errors import PasserelleError, RuleError
from engine.pipeline import Loaded, find_profile, run_pipeline
from engine.runtime.choices import Choice
from engine.runtime.tables import check_row_choice
from engine.validate import did_you_mean

__all__ = ["table"]


@click.group()
def table() -> None:
    """A profile's rows of the pack's tables: list the QBO choices, set or remove a row.

    \b
    Example:
      passerelle table choices shop/paris expense_accounts
      passerelle table set shop/paris expense_accounts "Software" 651000
      passerelle table remove shop/paris expense_accounts "Software"
    """


def _loaded(profile: str, name: str) -> Loaded:
    loaded = run_pipeline(find_profile(profile))
    if loaded.profile is None:
        raise PasserelleError([RuleError("E100", f"{profile!r} is a pack, not a profile: tables are changed per "
                                         "profile", None)])
    if name not in loaded.resolved.tables:
        tables = sorted(loaded.resolved.tables)
        raise PasserelleError([RuleError("E110", f"unknown table {name!r} in pack {loaded.pack.meta.name}", None,
                                         hint=did_you_mean(name, tables) or f"tables: {', '.join(tables)}")])
    return loaded


def _rows(loaded: Loaded, name: str) -> dict[Any, Any]:
    return {key: thaw(row.value) for key, row in loaded.resolved.tables[name].rows.items()}


def _save(profile: str, loaded: Loaded, name: str, rows: dict[Any, Any], what: str) -> None:
    from engine.console.overlay import save_table

    assert loaded.profile is not None
    result = save_table(find_profile(profile), loaded, name, rows)
    if not result.ok:
        raise PasserelleError([RuleError(e.code, e.message, None, hint=e.hint) for e in result.errors])
    click.echo(f"{what} (saved to {loaded.profile.file})")


@table.command()
@click.argument("profile")
@click.argument("name")
@handle_errors
def choices(profile: str, name: str) -> None:
    """The values rows of table NAME may take, read live from the QBO company (the table's `refers_to`);
    the values the profile's rows use are marked."""
    from engine.cli.session import open_session
    from engine.runtime.tables import table_choices

    _loaded(profile, name)
    with open_session(profile, read_only=True) as session:
        resolved = session.loaded.resolved
        spec = resolved.tables[name]
        found = table_choices(spec, resolved.setting_values(), session.target.reference_data())
        if found is None:
            raise PasserelleError([RuleError("E812", f"table {name!r} names no QBO records (no refers_to): its values "
                                             "are free text", spec.loc)])
        used = {str(v) for v in _rows(session.loaded, name).values()}
        for choice in found:
            mark = "*" if choice.value in used else " "
            click.echo(f"{mark} {choice.value}" + (f"    ({choice.label})" if choice.label != choice.value else ""))


@table.command(name="set")
@click.argument("profile")
@click.argument("name")
@click.argument("key")
@click.argument("value")
@handle_errors
def set_row(profile: str, name: str, key: str, value: str) -> None:
    """Set the row KEY of table NAME to VALUE for this profile (added, or replacing the pack's value)."""
    from engine.console.overlay import table_key

    loaded = _loaded(profile, name)
    spec = loaded.resolved.tables[name]
    if spec.refers_to is not None:
        problem = check_row_choice(spec, key, value, _live_choices(profile, name))
        if problem is not None:
            raise PasserelleError([RuleError("E830", problem, spec.loc,
                                             hint=f"`passerelle table choices {profile} {name}` lists them")])
    rows = _rows(loaded, name)
    rows[table_key(spec, key)] = value
    _save(profile, loaded, name, rows, f"table {name}: {key!r} -> {value!r}")


def _live_choices(profile: str, name: str) -> list[Choice] | None:
    """The table's choices from the company, or None (with a note) when the profile cannot reach it yet."""
    from engine.cli.session import open_session
    from engine.runtime.tables import table_choices

    try:
        with open_session(profile, read_only=True) as session:
            resolved = session.loaded.resolved
            return table_choices(resolved.tables[name], resolved.setting_values(), session.target.reference_data())
    except Exception as exc:  # not connected yet, no key, QBO unreachable: the row is still saved
        message = exc.errors[0].message if isinstance(exc, PasserelleError) else str(exc).splitlines()[0]
        click.echo(f"note: the value was not checked against QuickBooks ({message}); "
                   "`passerelle check --tables` will", err=True)
        return None


@table.command(name="remove")
@click.argument("profile")
@click.argument("name")
@click.argument("key")
@handle_errors
def remove_row(profile: str, name: str, key: str) -> None:
    """Remove the row KEY of table NAME for this profile (a row of the pack is removed by the profile)."""
    from engine.console.overlay import table_key

    loaded = _loaded(profile, name)
    rows = _rows(loaded, name)
    typed = table_key(loaded.resolved.tables[name], key)
    if typed not in rows:
        raise PasserelleError([RuleError("E110", f"table {name!r} has no row {key!r}", None,
                                         hint=did_you_mean(key, [str(k) for k in rows]))])
    del rows[typed]
    _save(profile, loaded, name, rows, f"table {name}: row {key!r} removed")
