"""``passerelle impact [--base REV|PATH] [PROFILE... | --all]``: what an edit of packs does to each customer.

Each profile is compiled from the packs at the base (a git revision, ``HEAD`` by default, or another
folder) and as they are now, both are planned against the same inputs (every case of the profile's
pack, and with ``--live`` its QBO company, read only), and the difference is printed per profile;
profiles that are new, or at the base and gone now, are named as such.
Exit status like ``plan --detailed-exitcode``: 0 nothing changes, 2 something changes, 1 an error
(``--exit-zero`` reports changes but exits 0, for hooks that only show them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from engine.basetree import open_base
from engine.cli.output import handle_errors
from engine.errors import PasserelleError, RuleError
from engine.impact import LivePlans, impact_to_json, render_impact, run_impact
from engine.pipeline import Loaded
from engine.resources import rules_dir
from engine.runtime.plan import Plan, PlanOptions, make_plan

__all__ = ["default_rules", "impact", "profile_files"]


def default_rules() -> Path:
    """``rules/`` in the current folder when there is one (a pack repository), else the shipped packs."""
    here = Path("rules")
    return here if here.is_dir() else rules_dir()


def _packs(rules: Path) -> list[Path]:
    return sorted(p for p in rules.iterdir() if (p / "pack.yaml").is_file()) if rules.is_dir() else []


def _customers(pack: Path) -> list[Path]:
    return sorted((pack / "customers").glob("*.yaml"))


def _gone(files: list[Path], rules: Path, base: Path) -> list[Path]:
    """The base's profile files with no counterpart under ``rules`` now."""
    return [f for f in files if not (rules / f.relative_to(base)).is_file()]


def _need_profiles(specs: tuple[str, ...]) -> None:
    if not specs:
        raise PasserelleError([RuleError("E841", "name the profiles to compare, or --all", None,
                                         hint="passerelle impact PACK/CUSTOMER, passerelle impact PACK, "
                                              "or passerelle impact --all")])


def profile_files(specs: tuple[str, ...], every: bool, rules: Path, base: Path) -> tuple[list[Path], list[Path]]:
    """Profile files now, from PROFILE arguments (a file, PACK/CUSTOMER, or PACK for all its customers) or
    --all, and the profiles they name in ``base`` (the rules folder at the base) that are gone now."""
    if every:
        return ([f for pack in _packs(rules) for f in _customers(pack)],
                _gone([f for pack in _packs(base) for f in _customers(pack)], rules, base))
    _need_profiles(specs)
    found: list[Path] = []
    removed: list[Path] = []
    for spec in specs:
        path = Path(spec)
        pack, _, customer = spec.partition("/")
        if path.is_file():
            found.append(path)
        elif (rules / spec / "pack.yaml").is_file() or (base / spec / "pack.yaml").is_file():
            found += _customers(rules / spec)
            removed += _gone(_customers(base / spec), rules, base)
        elif customer and "/" not in customer and (rules / pack / "customers" / f"{customer}.yaml").is_file():
            found.append(rules / pack / "customers" / f"{customer}.yaml")
        elif customer and "/" not in customer and (base / pack / "customers" / f"{customer}.yaml").is_file():
            removed.append(base / pack / "customers" / f"{customer}.yaml")
        else:
            raise PasserelleError([RuleError("E841", f"profile {spec!r} not found under {rules} (nor at the base)",
                                             None, hint="give a profile file, PACK/CUSTOMER, a pack name, or --all")])
    return list(dict.fromkeys(found)), list(dict.fromkeys(removed))


class _Replay:
    """A source read once and replayed, so both plans of a live comparison see the same records."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._read: dict[str, list[Mapping[str, Any]]] = {}

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        if resource not in self._read:
            self._read[resource] = list(self._source.records(resource))
        yield from self._read[resource]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def _live(path: Path) -> LivePlans:
    """Both plans against the profile's live company and product records, read only (suspension ignored)."""

    def plans(before: Loaded, after: Loaded) -> tuple[Plan, Plan]:
        from engine.cli.session import open_session
        from engine.runtime.ledger import StoreLedger

        with open_session(str(path), read_only=True, loaded=after) as session:
            sources = {name: _Replay(source) for name, source in session.sources.items()}
            ledger = StoreLedger(session.store, session.key)
            options = PlanOptions(manual=True)
            return (make_plan(before, session.target, sources, ledger, options),
                    make_plan(after, session.target, sources, ledger, options))

    return plans


@click.command()
@click.argument("profiles", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every profile of every pack in the rules folder.")
@click.option("--base", default="HEAD", show_default=True,
              help="What to compare with: a git revision, or a folder (of packs, a pack, or a checkout with rules/).")
@click.option("--rules", "rules_opt", type=click.Path(path_type=Path, file_okay=False),
              help="The folder of packs (default: ./rules when present, else the shipped packs).")
@click.option("--live", is_flag=True, help="Also plan against each profile's live QBO company and product (read only).")
@click.option("--json", "as_json", is_flag=True, help="Print the impact as JSON.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 when something changes (errors still exit 1).")
@handle_errors
def impact(profiles: tuple[str, ...], *, every: bool, base: str, rules_opt: Path | None, live: bool, as_json: bool,
           exit_zero: bool) -> None:
    """What the edit since BASE changes for each PROFILE: documents created, updated, skipped or in error."""
    rules = (rules_opt or default_rules()).resolve()
    if not every:
        _need_profiles(profiles)  # before the base is extracted
    with open_base(base, rules) as base_root:
        files, removed = profile_files(profiles, every, rules, base_root)
        result = run_impact(files, rules, base_root, base, removed=removed, live=_live if live else None)
    click.echo(impact_to_json(result) if as_json else render_impact(result), nl=False)
    code = result.exit_code
    sys.exit(0 if code == 2 and exit_zero else code)
