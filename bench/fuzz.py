"""Fuzzing for longer than the suite does: the properties of ``tests/fuzzing.py`` (hostile
expressions, templates and YAML end only in the project's own located errors) over many more inputs,
in a child process capped in memory, with a hang guard.

    .venv/bin/python -m bench.fuzz [--examples N] [--random] [--hang-guard SECONDS]

Prints ``key=value`` lines; exits 1 with the counterexample on a failure.
"""

from __future__ import annotations

import argparse
import time

from tests.bounded import run_bounded
from tests.fuzzing import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=5000, help="inputs per property (default 5000)")
    parser.add_argument("--random", action="store_true", help="a fresh random seed instead of the fixed one")
    parser.add_argument("--hang-guard", type=float, default=3600.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        run_bounded(run, args.examples, None if args.random else 0, seconds=args.hang_guard)
    except AssertionError as exc:
        print(f"fuzz_failure={exc}")
        return 1
    print(f"fuzz_examples_per_property={args.examples}")
    print(f"fuzz_seconds={time.perf_counter() - start:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
