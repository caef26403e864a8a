"""The fuzzing harness (``tests/fuzzing.py``) on a fixed, small budget: hostile expressions, templates,
YAML, sandbox queries and webhook bodies end only in the project's own errors (located errors, QBO
faults, bad notifications), inside a memory-capped child with a hang guard. Derandomized, so a run is
the same on every machine; ``python -m bench.fuzz`` runs the same properties for longer."""

from __future__ import annotations

from tests.bounded import run_bounded
from tests.fuzzing import run

EXAMPLES = 150  # per property; the whole run stays a few seconds
EDGE_EXAMPLES = 100  # per property for the sandbox query language and the webhook parsers


def test_hostile_inputs_only_end_in_located_errors_within_bounds() -> None:
    assert run_bounded(run, EXAMPLES, 0, ("expression", "template", "yaml")) == "ok"


def test_hostile_queries_and_webhook_bodies_only_end_in_faults_within_bounds() -> None:
    assert run_bounded(run, EDGE_EXAMPLES, 0, ("query", "qbo_notification", "product_event")) == "ok"
