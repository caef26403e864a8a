"""``passerelle plan``, ``apply`` and ``sync``: preview, carry out, or both (once or on a schedule)."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from engine.cli.check import stop_on_blocking_checks
from engine.cli.output import colour, handle_errors
from engine.cli.progress import plan_progress, progress_reporter
from engine.cli.session import Session, open_session
from engine.cli.targets import for_each_profile, profile_specs
from engine.errors import PasserelleError, RuleError
from engine.runtime.apply import ApplyReport, apply_plan, check_fresh
from engine.runtime.checks import blocking_failures
from engine.runtime.plan import Plan
from engine.runtime.plan_json import read_plan_file, write_plan_json
from engine.runtime.render import iter_text, render_text

__all__ = ["apply", "plan", "sync"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _interval(text: str) -> float:
    match = re.fullmatch(r"([1-9][0-9]*)([smhd])", text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 15m, 1h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _show(plan: Plan, as_json: bool) -> None:
    if as_json:  # written a change at a time, never built whole
        write_plan_json(plan, sys.stdout)
        return
    for piece in iter_text(plan, color=colour()):  # a change at a time: a first sync's plan is not built whole
        click.echo(piece, nl=False)


def _report(report: ApplyReport) -> None:
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(report.counts.items())) or "nothing to do"
    click.echo(f"\nApplied (run {report.run_id}): {counts}")
    for flow, key, message in report.failures:
        click.echo(f"  x {flow} {key}: {message}", err=True)
    if report.failures:
        click.echo("See `passerelle errors list`; fix, then `passerelle errors resync ID` or run again.", err=True)


# Exit codes of plan, apply and sync (README, "Exit codes"): 0 all done, 2 changes pending (plan
# --detailed-exitcode), 1 when a record could not be mapped or written or a conflict needs a decision.
EXIT_DONE, EXIT_ATTENTION, EXIT_PENDING = 0, 1, 2


def _attention(plan: Plan, report: ApplyReport | None = None) -> list[str]:
    """What needs a person after this plan (and its apply): records not mapped or not written, conflicts."""
    failed = {(flow, key) for flow, key, _ in report.failures} if report is not None else set()
    unmapped = {(c.flow, c.key) for c in plan.changes if c.action == "error"}
    conflicts = sum(1 for c in plan.changes if c.action == "conflict")
    unwritten = len(failed - unmapped)
    notes = []
    if unmapped:
        notes.append(f"{len(unmapped)} record(s) could not be mapped")
    if unwritten:
        notes.append(f"{unwritten} record(s) could not be written")
    if conflicts:
        notes.append(f"{conflicts} conflict(s) need a decision")
    return notes


def _code(plan: Plan, report: ApplyReport | None = None, *, pending: bool = False,
          refused: Sequence[str] = ()) -> int:
    """The documented exit code (and, for 1, one line saying why on stderr)."""
    notes = _attention(plan, report)
    if refused:
        notes.append(f"apply would refuse this plan: blocking check(s) {', '.join(refused)} fail")
    if notes:
        click.echo(f"needs attention: {'; '.join(notes)} (see `passerelle errors list`)", err=True)
        return EXIT_ATTENTION
    if pending and plan.has_changes:
        return EXIT_PENDING
    return EXIT_DONE


def _exit(plan: Plan, report: ApplyReport | None = None, *, pending: bool = False) -> None:
    """Leave with the documented exit code."""
    code = _code(plan, report, pending=pending)
    if code:
        sys.exit(code)


def _refusals(session: Session) -> list[str]:
    """The blocking prerequisite checks that fail now: apply and sync would refuse to run (a plan says so)."""
    failures = blocking_failures(session)
    for result in failures:
        click.echo(f"apply would refuse: check {result.name} fails: {result.message}"
                   + (f" (hint: {result.hint})" if result.hint else ""), err=True)
    return [r.name for r in failures]


def _plan(session: Session, record: str | None = None) -> Plan:
    """A fresh plan, its progress shown while it runs (Ctrl-C stops it: a plan writes nothing)."""
    with plan_progress() as progress:
        result = session.plan(record=record, progress=progress)
    if record is not None:
        session.check_record(record, result)
    return result


def _apply(session: Session, plan: Plan) -> ApplyReport:
    with progress_reporter() as progress:
        report = apply_plan(plan, session.target, session.store, progress=progress, writers=session.writers,
                            attacher=session.target, fetcher=session.fetcher)
    if report.ok and plan.changes is not None:
        session.commit_cursors()
    _report(report)
    return report


@click.command()
@click.argument("profiles", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Every profile under rules/ (each planned on its own).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as versioned JSON (schemas/plan.schema.json); "
              "a JSON list of plans for several profiles.")
@click.option("--out", type=click.Path(path_type=Path), help="Also save the plan (JSON) for `passerelle apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when nothing would change, 2 when something would, 1 when a record cannot be mapped "
                   "or a conflict needs a decision.")
@click.option("--record", help="Plan only this source record (its key).")
@handle_errors
def plan(profiles: tuple[str, ...], *, everyone: bool, as_json: bool, out: Path | None, detailed_exitcode: bool,
         record: str | None) -> None:
    """Dry run: what a sync would create (each field), update (before -> after), void or skip in QBO, for one
    profile, several, or --all. Writes nothing; says when apply would refuse the plan (a blocking prerequisite
    check fails)."""
    specs = profile_specs(profiles, everyone)
    if len(specs) > 1 and (out is not None or record is not None):
        raise click.UsageError("--out and --record take one profile")
    listed = as_json and len(specs) > 1
    shown: list[str] = []

    def one(spec: str) -> int:
        with open_session(spec, read_only=True) as session:
            result = _plan(session, record)
            refused = _refusals(session) if result.enabled else []
        if listed:
            click.echo("[" if not shown else ",")
        shown.append(spec)
        _show(result, as_json)
        if out is not None:
            with out.open("w", encoding="utf-8") as saved:
                write_plan_json(result, saved)
            click.echo(f"plan saved to {out}", err=True)
        return _code(result, pending=detailed_exitcode, refused=refused)

    code = for_each_profile(specs, one)
    if listed:
        click.echo("]" if shown else "[]")
    if code:
        sys.exit(code)


@click.command()
@click.argument("target")
@click.option("--yes", is_flag=True, help="Apply without asking (needed when not on a terminal).")
@click.option("--profile", "profile_spec", help="With a saved plan: its profile (default: PACK/PROFILE from the plan).")
@handle_errors
def apply(target: str, yes: bool, profile_spec: str | None) -> None:
    """Carry out a fresh plan of PROFILE, or a saved PLAN.json (refused when the target changed since)."""
    path = Path(target)
    if path.suffix == ".json" and path.is_file():
        saved = read_plan_file(path)
        with open_session(profile_spec or _profile_of(saved)) as session:
            stop_on_blocking_checks(session)
            check_fresh(saved, session.target, session.store)
            _confirm(saved, yes)
            report = _apply(session, saved)
        _exit(saved, report)
    else:
        with open_session(target) as session:
            stop_on_blocking_checks(session)
            fresh = _plan(session)  # applied as computed: apply does not plan again
            _show(fresh, False)
            _confirm(fresh, yes)
            report = _apply(session, fresh)
        _exit(fresh, report)


def _profile_of(saved: Plan) -> str:
    return f"{saved.pack}/{saved.profile}"


def _confirm(plan: Plan, yes: bool) -> None:
    if not plan.has_changes or yes:
        return
    if not sys.stdin.isatty():
        raise PasserelleError([RuleError("E803", "refusing to apply without confirmation", None,
                                         hint="pass --yes to apply non-interactively")])
    click.confirm("Apply these changes?", abort=True)


@click.command()
@click.argument("profiles", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Every profile under rules/, each on its own.")
@click.option("--every", "every", help="Run again at this interval (e.g. 1h) until interrupted.")
@click.option("--record", help="Sync only this source record now (a manual sync; ignores suspension).")
@click.option("--times", type=int, default=0, hidden=True, help="Stop after this many runs (tests).")
@handle_errors
def sync(profiles: tuple[str, ...], everyone: bool, every: str | None, record: str | None, times: int) -> None:
    """Plan and apply, once or every interval (e.g. hourly), for one record, or for several profiles (each on
    its own: one that fails does not stop the others)."""
    specs = profile_specs(profiles, everyone)
    if len(specs) > 1 and record is not None:
        raise click.UsageError("--record takes one profile")
    interval = _interval(every) if every else None
    runs = 0

    def one(spec: str) -> int:
        with open_session(spec) as session:
            stop_on_blocking_checks(session)
            result = _plan(session, record)
            click.echo(render_text(result, color=colour()), nl=False)
            # Records that cannot be mapped, and conflicts, are applied too: they join the error history.
            needed = result.has_changes or any(c.action in ("error", "conflict") for c in result.changes)
            report = _apply(session, result) if needed else None
        return _code(result, report)

    while True:
        code = for_each_profile(specs, one)
        runs += 1
        if interval is None or (times and runs >= times):
            break
        click.echo(f"next run in {every}", err=True)
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
    if code:  # the last run's outcome
        sys.exit(code)
