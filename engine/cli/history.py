"""``passerelle errors`` (G10-G12) and ``suspend``/``resume`` (G9)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict

import click

from engine.cli.output import colour, handle_errors
from engine.cli.run import _apply
from engine.cli.session import open_session
from engine.errors import PasserelleError, RuleError
from engine.pipeline import find_profile, run_pipeline
from engine.runtime import suspension
from engine.runtime.history import list_errors, set_error_status
from engine.store import open_store

__all__ = ["errors", "resume", "suspend"]


@click.group()
def errors() -> None:
    """The error history: what failed, why, and how to fix it."""


_STATUSES = ("open", "resynced", "resolved")


@errors.command("list")
@click.argument("profile", required=False)
@click.option("--status", "statuses", multiple=True, type=click.Choice(_STATUSES),
              help="Only errors in this status (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per error (NDJSON), every field.")
@handle_errors
def list_command(profile: str | None, statuses: tuple[str, ...], as_json: bool) -> None:
    """Open errors first; resolved ones stay listed, dimmed. Each with its time, the run that met it, its
    fault class and the fix hint.

    \b
    Example:
      passerelle errors list acme/demo --status open
      passerelle errors list --json | jq .message
    """
    rows = [r for r in list_errors(open_store(), _profile_name(profile) if profile else None)
            if not statuses or r.status in statuses]
    if as_json:
        for row in rows:
            click.echo(json.dumps({**asdict(row), "created_at": _when(row.created_at),
                                   "resolved_at": _when(row.resolved_at)}, ensure_ascii=False))
        return
    if not rows:
        click.echo("no errors")
        return
    styled = colour()
    for row in rows:
        run = f" run {row.run_id}" if row.run_id is not None else ""
        line = (f"#{row.id} [{row.status}] {_when(row.created_at)}{run} {row.profile} {row.flow} {row.source_key} "
                f"({row.fault_class}): {row.message}")
        hint = f"\n    fix: {row.hint}" if row.hint and row.status == "open" else ""
        click.echo(click.style(line + hint, dim=row.status == "resolved") if styled else line + hint)


def _when(value: object) -> str | None:
    """A stored time as ISO 8601 in UTC, to the second."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat(timespec="seconds")
    return str(value)


def _profile_name(spec: str) -> str:
    return run_pipeline(find_profile(spec)).resolved.key


@errors.command()
@click.argument("error_id", type=int)
@handle_errors
def resolve(error_id: int) -> None:
    """Mark an error resolved (it stays in the history)."""
    row = set_error_status(open_store(), error_id, "resolved")
    if row is None:
        raise PasserelleError([RuleError("E804", f"no error #{error_id}", None, hint="see `passerelle errors list`")])
    click.echo(f"#{error_id} resolved")


@errors.command()
@click.argument("error_id", type=int)
@click.option("--profile", "profile_spec", help="The profile file or PACK/CUSTOMER (default: found from the error).")
@handle_errors
def resync(error_id: int, profile_spec: str | None) -> None:
    """Re-plan and apply the one record that failed ("resync this item"); the error is marked resynced."""
    store = open_store()
    row = next((r for r in list_errors(store) if r.id == error_id), None)
    if row is None:
        raise PasserelleError([RuleError("E804", f"no error #{error_id}", None, hint="see `passerelle errors list`")])
    spec = profile_spec or _find_spec(row.profile)
    set_error_status(store, error_id, "resynced")
    with open_session(spec, store=store) as session:
        plan = session.plan(record=row.source_key, manual=True)
        report = _apply(session, plan)
    if report.failures:
        sys.exit(1)


def _find_spec(profile: str) -> str:
    """An error row's profile key is ``pack/profile``: the PACK/CUSTOMER shorthand of shipped profiles."""
    try:
        return str(find_profile(profile))
    except PasserelleError:
        raise PasserelleError([RuleError("E804", f"cannot find profile {profile!r}", None,
                                         hint="pass --profile FILE")]) from None


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


@click.command()
@click.argument("profile")
@click.option("--until", "until", required=True, help="Date (YYYY-MM-DD) automatic syncs resume; a past date resumes now.")
@handle_errors
def suspend(profile: str, until: str) -> None:
    """Suspend automatic syncs of PROFILE until a date ("sync invoices created since"); a past date resumes."""
    day = _date(until)
    name = _profile_name(profile)
    store = open_store()
    if day <= dt.date.today().isoformat():
        suspension.resume(store, name)
        click.echo(f"{name}: {day} is past, automatic syncs are running")
        return
    suspension.suspend(store, name, day)
    click.echo(f"{name}: automatic syncs suspended until {day}")


@click.command()
@click.argument("profile")
@handle_errors
def resume(profile: str) -> None:
    """Resume automatic syncs of PROFILE."""
    name = _profile_name(profile)
    suspension.resume(open_store(), name)
    click.echo(f"{name}: automatic syncs resumed")


@click.command("resolve")
@click.argument("error_id", type=int)
@click.option("--keep-ours", "choice", flag_value="ours", help="Write the product's values over QBO's edit.")
@click.option("--take-theirs", "choice", flag_value="theirs", help="Keep QBO's values until the product changes.")
@click.option("--profile", "profile_spec", help="The profile file or PACK/CUSTOMER (default: found from the error).")
@handle_errors
def resolve_conflict(error_id: int, choice: str | None, profile_spec: str | None) -> None:
    """Decide a conflict (a record edited in QBO while the product changed it): keep ours or take QBO's."""
    from engine.runtime.decide import decide_conflict

    if choice is None:
        raise click.UsageError("say --keep-ours or --take-theirs")
    store = open_store()
    row = next((r for r in list_errors(store) if r.id == error_id), None)
    if row is None:
        raise PasserelleError([RuleError("E806", f"no conflict #{error_id}", None, hint="see `passerelle errors list`")])
    with open_session(profile_spec or _find_spec(row.profile), store=store) as session:
        decision = decide_conflict(session, error_id, choice, session.target.client.get)
        click.echo(decision.message)
        if decision.write_needed:
            report = _apply(session, session.plan(record=row.source_key, manual=True))
            if report.failures:
                sys.exit(1)
