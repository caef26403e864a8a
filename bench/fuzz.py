"""Fuzzing for longer than the suite does: the properties of ``tests/fuzzing.py`` (hostile expressions,
templates, YAML, sandbox QBO queries, QBO notifications and product events end only in the project's
own errors) over many more inputs, each property in a child process capped in memory, with a hang guard.

    .venv/bin/python -m bench.fuzz [--examples N] [--random] [--only NAME ...] [--hang-guard SECONDS]

Prints ``key=value`` lines (inputs per property, seconds per property and in all); exits 1 with the
counterexample on a failure.
"""

from __future__ import annotations

import argparse
import time

from tests.bounded import run_bounded
from tests.fuzzing import PROPERTIES, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=5000, help="inputs per property (default 5000)")
    parser.add_argument("--random", action="store_true", help="a fresh random seed instead of the fixed one")
    parser.add_argument("--only", nargs="+", choices=sorted(PROPERTIES), default=sorted(PROPERTIES),
                        help="the properties to run (default: all)")
    parser.add_argument("--hang-guard", type=float, default=3600.0, help="give up on a property after this many seconds")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"fuzz_examples_per_property={args.examples}")
    for name in args.only:
        began = time.perf_counter()
        try:
            run_bounded(run, args.examples, None if args.random else 0, (name,), seconds=args.hang_guard)
        except AssertionError as exc:
            print(f"fuzz_failure_{name}={exc}")
            return 1
        print(f"fuzz_seconds_{name}={time.perf_counter() - began:.1f}")
    print(f"fuzz_seconds={time.perf_counter() - start:.1f}")
    print(f"sandbox_like_adversarial_ms={_like_ms():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _like_ms() -> float:
    """The sandbox's LIKE on a 500-character name and a 40-wildcard pattern that never matches (a backtracking
    matcher would explore on the order of 500^40 placements), median of 5, ms."""
    from statistics import median

    from connectors.sandbox.query import like

    text, pattern = "a" * 499 + "c", "%a" * 40 + "%b"
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        like(text, pattern)
        runs.append((time.perf_counter() - began) * 1000)
    return median(runs)
