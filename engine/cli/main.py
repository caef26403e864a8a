"""The ``passerelle`` command: a click group whose subcommands are looked up in a registry.

Each entry names the module and attribute of a click command; modules are imported only when
their command runs, so ``passerelle validate`` does not pay for starting the sandbox's imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click

__all__ = ["COMMANDS", "cli", "main"]

# name -> "module:attribute" of a click.Command
COMMANDS: Mapping[str, str] = {
    "validate": "engine.cli.validate:validate",
    "config": "engine.cli.config:config",
    "graph": "engine.cli.graph:graph",
    "explain": "engine.cli.explain:explain",
    "sandbox": "connectors.sandbox.cli:sandbox",
    "demo": "engine.cli.demo:demo",
    "connect": "connectors.qbo.cli:connect",
    "plan": "engine.cli.run:plan",
    "apply": "engine.cli.run:apply",
    "sync": "engine.cli.run:sync",
    "errors": "engine.cli.history:errors",
    "suspend": "engine.cli.history:suspend",
    "resume": "engine.cli.history:resume",
    "test": "engine.cli.packtest:test",
    "impact": "engine.cli.impact:impact",
    "check": "engine.cli.check:check",
    "serve": "engine.serve.cli:serve",
    "resolve": "engine.cli.history:resolve_conflict",
    "run": "engine.cli.fleet:run",
    "worker": "engine.cli.fleet:worker",
    "jobs": "engine.cli.fleet:jobs",
    "enqueue": "engine.cli.fleet:enqueue",
    "table": "engine.cli.tables:table",
    "init": "engine.cli.init:init",
}

_HELP: Mapping[str, str] = {
    "validate": "Validate rule packs and customer profiles.",
    "config": "Inspect a customer profile's effective configuration.",
    "graph": "Print a pack's state machines as Mermaid.",
    "explain": "Map one record offline and show which rule set each field.",
    "sandbox": "Run the offline QuickBooks Online API server.",
    "demo": "A complete sync of a sample profile on an embedded sandbox.",
    "connect": "Authorise Passerelle to use a QuickBooks Online company (OAuth 2.0).",
    "plan": "Dry run: what a sync would change in QBO, field by field.",
    "apply": "Carry out a fresh or saved plan.",
    "sync": "Plan and apply, once or on a schedule.",
    "errors": "The error history: list, resync, resolve.",
    "suspend": "Suspend automatic syncs until a date.",
    "resume": "Resume automatic syncs.",
    "test": "Run a rule pack's snapshot cases (--update to accept changes).",
    "impact": "What an edit of packs changes for each profile, against a git revision or folder.",
    "check": "Check the QBO company has what the pack needs, and offer fixes.",
    "serve": "Receive QBO and product webhooks and sync each change as it happens.",
    "resolve": "Decide a conflict: keep ours or take QBO's.",
    "run": "Run every profile of a deployment: schedules, webhooks, events, status.",
    "worker": "A worker of the fleet (PostgreSQL): runs jobs of any profile.",
    "jobs": "The service's jobs: queued, running, done, failed, retried.",
    "enqueue": "Queue a sync now (or a first sync, or a resync) for the service to run.",
    "table": "A profile's rows of the pack's tables: QBO choices, set, remove.",
    "init": "Create a new rule pack that validates and passes its first case.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="passerelle")
def cli() -> None:
    """Passerelle: declarative accounting integrations with QuickBooks Online."""


def main() -> None:
    cli()
