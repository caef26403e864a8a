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

# Examples shown under each command's --help (commands whose docstring has none get these as their epilog).
EXAMPLES: Mapping[str, tuple[str, ...]] = {
    "apply": ("passerelle apply acme/demo --yes", "passerelle plan acme/demo --out plan.json && "
              "passerelle apply plan.json"),
    "check": ("passerelle check acme/demo", "passerelle check acme/demo --fix --yes",
              "passerelle check acme/demo --tables --recent", "passerelle check --all"),
    "config choices": ("passerelle config choices acme/demo bank_account",),
    "config explain": ("passerelle config explain acme/demo",),
    "connect": ("passerelle connect acme/demo", "passerelle connect acme/demo --new-company"),
    "demo": ("passerelle demo", "passerelle demo --profile acme/demo"),
    "enqueue": ("passerelle enqueue acme/demo", "passerelle enqueue acme/demo --kind first",
                "passerelle enqueue acme/demo --kind resync --record 12"),
    "errors resolve": ("passerelle errors resolve 12",),
    "errors resync": ("passerelle errors resync 12",),
    "explain": ("passerelle explain acme/demo invoice.json",
                "passerelle explain acme/demo expense.json --flow expenses --refs refs.json"),
    "graph": ("passerelle graph acme > machines.md",),
    "impact": ("passerelle impact --all", "passerelle impact --base origin/main acme --json",
               "passerelle impact acme/demo --live"),
    "jobs": ("passerelle jobs --state failed", "passerelle jobs --profile acme/demo --json"),
    "plan": ("passerelle plan acme/demo", "passerelle plan acme/demo --detailed-exitcode --out plan.json",
             "passerelle plan --all", "passerelle plan acme/demo --record 1201 --json"),
    "resolve": ("passerelle resolve 12 --keep-ours", "passerelle resolve 12 --take-theirs"),
    "resume": ("passerelle resume acme/demo",),
    "run": ("passerelle run --profiles rules/ --port 8080", "passerelle run --profiles /srv/profiles --workers 8"),
    "sandbox": ("passerelle sandbox --preset fr --port 8765", "passerelle sandbox --companies 50 --latency 200"),
    "serve": ("passerelle serve --port 8080 --profile acme/demo --profile acme/demo",),
    "suspend": ("passerelle suspend acme/demo --until 2026-09-01",),
    "sync": ("passerelle sync acme/demo", "passerelle sync acme/demo --every 1h",
             "passerelle sync --all", "passerelle sync acme/demo --record F0012"),
    "table choices": ("passerelle table choices acme/demo expense_accounts",),
    "table remove": ("passerelle table remove acme/demo expense_accounts \"Frais bancaires\"",),
    "table set": ("passerelle table set acme/demo expense_accounts \"Frais bancaires\" 627000",),
    "test": ("passerelle test acme", "passerelle test", "passerelle test acme --update",
             "passerelle test acme --base origin/main"),
    "worker": ("passerelle worker --profiles /srv/profiles",),
}


def _with_example(command: click.Command, path: str) -> click.Command:
    """The command with its examples as epilog, unless its own help shows one."""
    lines = EXAMPLES.get(path)
    if lines and "Example" not in (command.help or "") and not command.epilog:
        command.epilog = "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            _with_example(sub, f"{path} {name}")
    return command


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
        return _with_example(command, cmd_name)

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
