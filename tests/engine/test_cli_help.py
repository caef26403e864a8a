"""Every command's --help shows an example and speaks the user's words: no bare feature ids (F21, G11 ...), which
name the project's backlog, not anything a user can look up."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from engine.cli.main import COMMANDS, cli

BARE_ID = re.compile(r"\b[LPOFGE][0-9]{1,2}\b")


def _commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    context = click.Context(cli)
    for name in sorted(COMMANDS):
        command = cli.get_command(context, name)
        if isinstance(command, click.Group):
            found.extend((name, sub) for sub in sorted(command.commands))
        else:
            found.append((name,))
    return found


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_help_has_an_example_and_no_bare_feature_id(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*words, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`passerelle {' '.join(words)} --help` shows no example"
    assert not BARE_ID.findall(result.output), BARE_ID.findall(result.output)
