"""The fuzzing harness (``tests/fuzzing.py``) on a fixed, small budget: hostile expressions, templates
and YAML end in the project's own errors, inside a memory-capped child with a hang guard.
``python -m bench.fuzz`` runs the same properties for longer."""

from __future__ import annotations

from tests.bounded import run_bounded
from tests.fuzzing import run

EXAMPLES = 150  # per property; the whole run stays a few seconds


def test_hostile_inputs_only_end_in_located_errors_within_bounds() -> None:
    assert run_bounded(run, EXAMPLES) == "ok"
