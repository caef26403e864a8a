"""Benchmark: `plan --json` of 10,000 changes — the plan's JSON written a change at a time.

A plan of N invoice creates (bench/apply.py's, 3 lines each) is written to a file as the CLI writes it
(``engine.runtime.plan_json.write_plan_json``) and, for comparison, as one document built whole
(``render.plan_to_json``, what ``plan --json`` did before). Planning itself is not timed here
(bench/first_sync.py times it through the CLI).

    .venv/bin/python -m bench.plan_json [--changes 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.apply import _plan  # noqa: E402
from engine.runtime.plan_json import write_plan_json  # noqa: E402
from engine.runtime.render import plan_to_json  # noqa: E402

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_json", description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--label", help="the figures' size label (default: 10k for 10000)")
    args = parser.parse_args(argv)
    plan = _plan("freshbooks/bench", args.changes, ("1", "2", "3"), "freshbooks", "bench")
    label = args.label or (f"{args.changes // 1000}k" if args.changes >= 1000 else str(args.changes))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        start = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            write_plan_json(plan, out)
        streamed = time.perf_counter() - start
        size = path.stat().st_size
        start = time.perf_counter()
        path.write_text(plan_to_json(plan), encoding="utf-8")
        whole = time.perf_counter() - start
    print(f"plan_json_seconds_{label}={streamed:.2f}")
    print(f"plan_json_whole_document_seconds_{label}={whole:.2f}")
    print(f"plan_json_mb_{label}={size / 1e6:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
