"""``passerelle check PROFILE [--fix] [--yes] [--tables] [--recent]``: the pack's prerequisites, checked
against the QBO company, and the profile's tables against the same company.

Each check prints ✓ or ✗ with what is wrong and how to fix it; the exit status is 1 while a blocking
check fails, so the command is also the "retry" after the user fixed QBO (run it again). ``--fix``
creates the records the pack offers to create (asking first), then checks again.

Then every table value that names a QBO record (tables with ``refers_to``) must exist, be active and
be of the right kind; failures are located at the table row (file:line:col) like ``validate``'s
errors and make the exit status 1. Rows no record reaches and keys no row covers are listed as
warnings, from the pack's cases planned with this profile (or, with ``--recent``, from the product's
records a sync would read now). ``--tables`` runs the table checks alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from engine.cli.output import handle_errors
from engine.cli.session import Session, open_session
from engine.cli.targets import for_each_profile, profile_specs
from engine.errors import Loc, PasserelleError, RuleError
from engine.runtime.checks import CheckResult, apply_fix, blocking_failures, not_applicable, prepare_fix, run_checks
from engine.runtime.tables import check_table_refs, check_table_usage

__all__ = ["check", "print_results", "stop_on_blocking_checks"]


def _mark(ok: bool) -> str:
    """✓/✗ where the terminal can print them, else plain ASCII (a redirected Windows console)."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "ok" if ok else "FAIL"
    return "✓" if ok else "✗"


def print_results(results: Sequence[CheckResult], *, skipped: int = 0, fix_offered: bool = True) -> None:
    """One line per check; failures add their hint and, when the pack offers one, the fix."""
    for result in results:
        if result.ok:
            about = f": {result.description}" if result.description else ""
            click.echo(f"  {_mark(True)} {result.name}{about}")
            continue
        level = "" if result.blocking else " (warning, does not stop a sync)"
        click.echo(f"  {_mark(False)} {result.name}{level}: {result.message}")
        if result.hint:
            click.echo(f"      hint: {result.hint}")
        if result.fixable and fix_offered:
            click.echo("      fixable: run with --fix")
    failed = [r for r in results if not r.ok]
    blocking = sum(1 for r in failed if r.blocking)
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed ({blocking} blocking)"
    if skipped:
        summary += f", {skipped} not applicable"
    click.echo(summary)


def _spec(session: Session) -> str:
    """PACK/PROFILE, as the user types it."""
    return f"{session.loaded.compiled.name}/{session.profile}" if session.loaded.profile else session.profile


def _confirm(label: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise PasserelleError([RuleError("E810", "refusing to change the QBO company without confirmation", None,
                                         hint="pass --yes to apply the fixes non-interactively")])
    return click.confirm(f"Create {label} in QuickBooks?", default=False)


def _fix(session: Session, results: Sequence[CheckResult], yes: bool) -> bool:
    """Apply each offered fix the user accepts; True when anything was attempted."""
    pack = session.loaded.compiled
    attempted = False
    for result in results:
        if result.ok or not result.fixable:
            continue
        fix = prepare_fix(pack, session.target, result.name)
        if fix.error is not None:
            click.echo(f"  cannot fix {result.name}: {fix.error}", err=True)
            continue
        if not _confirm(fix.label, yes):
            click.echo(f"  skipped: {fix.label} not created")
            continue
        attempted = True
        after = apply_fix(pack, session.target, fix)
        if after.ok:
            click.echo(f"  created {fix.label}")
        else:
            click.echo(f"  fix of {result.name} failed: {after.message}", err=True)
    return attempted


def table_findings(session: Session, *, recent: bool = False) -> list[RuleError]:
    """The profile's tables against the company, and which rows records reach (cases, or recent records)."""
    loaded = session.loaded
    findings = check_table_refs(loaded.resolved, session.target.reference_data())
    if recent:
        from engine.runtime.ledger import StoreLedger
        from engine.runtime.plan import PlanOptions, make_plan
        from engine.tablecheck import Usage

        usage = Usage()
        usage.inputs = "recent records"
        make_plan(usage.observed(loaded), session.target, session.sources, StoreLedger(session.store, session.key),
                  PlanOptions(manual=True))
        return findings + check_table_usage(loaded.resolved, usage.frozen(), inputs="the recent records")
    from engine.impact import PackLoader, pack_cases
    from engine.tablecheck import fixture_usage

    cases, _ = pack_cases(loaded.pack.root, PackLoader()) if (loaded.pack.root / "cases").is_dir() else ((), ())
    if not cases:
        return findings
    return findings + check_table_usage(loaded.resolved, fixture_usage(loaded, cases), inputs="the pack's cases")


def print_table_findings(findings: Sequence[RuleError]) -> int:
    """Located findings, like ``validate``'s; returns the number of errors."""
    errors = sum(1 for f in findings if f.severity == "error")
    for finding in sorted(findings, key=lambda f: (f.severity != "error", f.loc or Loc(""), f.code)):
        click.echo("  " + finding.format().replace("\n", "\n  "))
    click.echo(f"{errors} error(s), {len(findings) - errors} warning(s)" if findings else "  every value names an "
               "active QBO record of the right kind")
    return errors


@click.command()
@click.argument("profiles", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Every profile under rules/, each on its own.")
@click.option("--fix", "fix", is_flag=True, help="Create the missing records the pack offers to create, then check again.")
@click.option("--yes", is_flag=True, help="Apply fixes without asking (needed when not on a terminal).")
@click.option("--tables", "tables_only", is_flag=True, help="Only check the tables' values against the QBO company.")
@click.option("--recent", is_flag=True, help="Which rows are reached: from the product's records now, not the cases.")
@handle_errors
def check(profiles: tuple[str, ...], *, everyone: bool, fix: bool, yes: bool, tables_only: bool, recent: bool) -> None:
    """Check the QBO company has what the pack needs (accounts, items, preferences, VAT set-up) and that the
    profile's tables name active QBO records of the right kind; for one profile, several, or --all."""
    code = for_each_profile(profile_specs(profiles, everyone),
                            lambda spec: _check_one(spec, fix=fix, yes=yes, tables_only=tables_only, recent=recent))
    if code:
        sys.exit(code)


def _check_one(profile: str, *, fix: bool, yes: bool, tables_only: bool, recent: bool) -> int:
    with open_session(profile, read_only=True) as session:
        if tables_only:
            click.echo(f"Tables of {_spec(session)} against the QBO company:")
            return 1 if print_table_findings(table_findings(session, recent=recent)) else 0
        pack = session.loaded.compiled
        results = run_checks(pack, session.target)
        skipped = not_applicable(pack, results)
        click.echo(f"Checks of {_spec(session)} against the QBO company:")
        print_results(results, skipped=skipped, fix_offered=not fix)
        if fix and any(not r.ok and r.fixable for r in results):
            click.echo("Fixing:")
            if _fix(session, results, yes):
                results = run_checks(pack, session.target)
                click.echo("Checked again:")
                print_results(results, skipped=not_applicable(pack, results))
        click.echo("Tables against the QBO company:")
        table_errors = print_table_findings(table_findings(session, recent=recent))
    if table_errors:
        click.echo("A table names a QBO record that is missing, inactive or of the wrong kind: fix the row (file:line "
                   "above) or QuickBooks.", err=True)
    if any(r.blocks for r in results):
        click.echo("A blocking check failed: fix it in QuickBooks (or the profile), then run `passerelle check` again.",
                   err=True)
    return 1 if any(r.blocks for r in results) or table_errors else 0


def stop_on_blocking_checks(session: Session) -> None:
    """Before a sync: print the failed blocking checks and stop (E811); passing checks print nothing."""
    failures = blocking_failures(session)
    if not failures:
        return
    click.echo("Prerequisite checks failed:", err=True)
    for result in failures:
        click.echo(f"  {_mark(False)} {result.name}: {result.message}", err=True)
        if result.hint:
            click.echo(f"      hint: {result.hint}", err=True)
    hint = (f"run `passerelle check {_spec(session)} --fix`" if any(r.fixable for r in failures)
            else f"fix QuickBooks, then run `passerelle check {_spec(session)}`")
    raise PasserelleError([RuleError("E811", f"{len(failures)} blocking prerequisite check"
                                     f"{'s' if len(failures) != 1 else ''} failed; nothing was synced", None,
                                     hint=hint)])
