"""How the CLI reports: compiler-style errors on stderr, exit codes, no tracebacks for user mistakes."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import click

from engine.errors import PasserelleError, RuleError, sort_errors

__all__ = ["colour", "dumps", "handle_errors", "print_errors", "print_fault"]

F = TypeVar("F", bound=Callable[..., Any])


def colour(stream: Any = None) -> bool:
    """Whether to colour what goes to ``stream`` (stdout by default): a terminal, unless ``NO_COLOR`` is set
    (https://no-color.org: any non-empty value); ``FORCE_COLOR`` colours a pipe too. Every command asks here."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def print_errors(errors: Iterable[RuleError]) -> int:
    errors = sort_errors(errors)
    for error in errors:
        click.echo(error.format(), err=True)
    count = sum(1 for e in errors if e.severity == "error")
    if count:
        click.echo(f"{count} error{'s' if count != 1 else ''}", err=True)
    return count


def handle_errors(func: F) -> F:
    """Turn ``PasserelleError`` into printed errors and exit 1; anything else is reported as a bug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PasserelleError as exc:
            print_errors(exc.errors)
            sys.exit(1)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if not print_fault(exc):
                raise
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def print_fault(exc: BaseException) -> bool:
    """Print a connector's typed fault (e.g. "reconnect needed") as a message for the user; False when ``exc``
    is none (a bug, to be reported as such)."""
    fault = getattr(exc, "fault", None)
    message = getattr(getattr(fault, "spec", None), "message", None)
    if fault is None or message is None:
        return False
    detail = getattr(fault, "detail", "")
    click.echo(f"error: {message}" + (f": {detail}" if detail else ""), err=True)
    hint = getattr(fault.spec, "hint", None)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    return True


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "items"):
        return dict(value.items())
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON for humans and snapshots: sorted keys kept as written, Decimals exact (as strings)."""
    return json.dumps(value, default=_default, indent=2, ensure_ascii=False)
