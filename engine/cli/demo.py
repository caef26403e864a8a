"""``passerelle demo``: a complete sync of a sample profile on an embedded QBO sandbox.

It validates the shipped packs, starts a sandbox company (French preset) in-process, shows the
plan of the first sync, applies it with progress, shows what QBO now holds, and plans again to
show that nothing is left to do. The state store is a fresh temporary file, so the demo can be
run any number of times.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from connectors.qbo.inprocess import AsgiBridge
from connectors.sandbox import DEFAULT_REALM_IDS, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN, test_config
from engine.cli.output import colour as use_colour
from engine.cli.output import handle_errors, print_errors
from engine.cli.run import _apply
from engine.cli.session import open_session
from engine.cli.validate import validate_paths
from engine.errors import PasserelleError, RuleError
from engine.resources import rules_dir
from engine.runtime.render import render_text
from engine.store import open_store

__all__ = ["demo"]


@click.command()
@click.option("--profile", "profile_spec", default=None,
              help="Profile to run (PACK/CUSTOMER or a file); default: the first shipped pack's demo profile.")
@handle_errors
def demo(profile_spec: str | None) -> None:
    """Validate the shipped packs, then sync a sample profile on an embedded sandbox."""
    errors, counts = validate_paths([rules_dir()])
    if print_errors(errors):
        raise SystemExit(1)
    click.echo(f"1. validated {counts['packs']} pack(s) and {counts['profiles']} profile(s) in {rules_dir()}")
    profile_spec = profile_spec or _default_profile()
    realm = DEFAULT_REALM_IDS["fr"]
    app = create_app(test_config())
    sandbox = sandbox_of(app)
    workdir = Path(tempfile.mkdtemp(prefix="passerelle-demo-"))
    store = open_store(str(workdir / "state.db"))
    bridge = AsgiBridge(app)
    colour = use_colour()
    try:
        with open_session(profile_spec, store=store, transport=bridge, token=TEST_TOKEN, realm=realm) as session:
            click.echo(f"2. embedded QBO sandbox: company {realm} (French preset); state store {store.url}\n")
            plan = session.plan()
            click.echo(render_text(plan, color=colour))
            click.echo("3. applying the first sync")
            report = _apply(session, plan)
            click.echo("\n4. what QuickBooks now holds")
            for entity in ("Invoice", "Payment", "Bill"):
                rows = sandbox.query(realm, f"SELECT * FROM {entity} MAXRESULTS 1000").get(entity, [])
                for row in rows:
                    number = row.get("DocNumber") or row.get("PaymentRefNum") or row["Id"]
                    balance = f", balance {row['Balance']}" if "Balance" in row else ""
                    click.echo(f"   {entity} {number}: total {row.get('TotalAmt')}{balance}")
            again = session.plan()
            state = "nothing left to do" if not again.has_changes else "changes remain"
            click.echo(f"\n5. planning again: {state} ({sum(again.unchanged.values())} unchanged)")
    finally:
        bridge.close()
        sandbox.close()
        store.dispose()
    if report.failures:
        raise SystemExit(1)


def _default_profile() -> str:
    """The demo profile of the first pack (by name) that ships one: rules/<pack>/customers/demo.yaml."""
    found = sorted(rules_dir().glob("*/customers/demo.yaml"))
    if not found:
        raise PasserelleError([RuleError("E110", f"no pack in {rules_dir()} ships a demo profile", None,
                                         hint="pass --profile PACK/CUSTOMER")])
    return str(found[0])

