"""``python -m engine.cli``: the same as the ``passerelle`` command."""

from engine.cli.main import main

main()
