"""Which profiles a command runs on: those named, or ``--all``; and one exit code for all of them.

``plan``, ``sync`` and ``check`` take several profiles (``validate`` takes several paths). Each profile runs on
its own: a profile that cannot run (not found, not connected, QBO refusing) prints its error and counts as
needing attention, and the others still run. The exit code is the most urgent of them: 1 (needs a person)
over 2 (changes pending) over 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from engine.cli.output import print_errors, print_fault
from engine.errors import PasserelleError, RuleError
from engine.pipeline import known_profiles

__all__ = ["for_each_profile", "most_urgent", "profile_specs"]

_URGENCY = {1: 2, 2: 1, 0: 0}  # exit code -> how urgent


def profile_specs(profiles: Sequence[str], everyone: bool) -> list[str]:
    if everyone and profiles:
        raise click.UsageError("name profiles or give --all, not both")
    if everyone:
        found = known_profiles()
        if not found:
            raise PasserelleError([RuleError("E100", "--all found no profile (rules/PACK/customers/*.yaml)", None)])
        return found
    if not profiles:
        raise click.UsageError("name a PROFILE (a file, or PACK/CUSTOMER), several, or --all")
    return list(dict.fromkeys(profiles))


def most_urgent(codes: Sequence[int]) -> int:
    return max(codes, key=lambda code: _URGENCY.get(code, 2), default=0)


def for_each_profile(specs: Sequence[str], run: Callable[[str], int]) -> int:
    """``run`` each profile (it returns its exit code), a header before each when there are several."""
    codes = []
    for spec in specs:
        if len(specs) > 1:
            click.echo(f"== {spec}", err=True)
        try:
            codes.append(run(spec))
        except PasserelleError as exc:
            print_errors(exc.errors)
            codes.append(1)
        except Exception as exc:
            if len(specs) == 1 or not print_fault(exc):
                raise
            codes.append(1)
    return most_urgent(codes)
