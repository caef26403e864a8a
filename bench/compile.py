"""Benchmark: how long a pack takes to compile, and `passerelle validate rules/` on every shipped pack.

A pack's compile time is ``run_pipeline`` on its folder (load, validate, build, resolve, compile), the
cost paid once per process before any record is mapped. The figure is the median of several runs
after one warm-up run (the warm-up pays the one-off JSON Schema and import costs, which belong to
start-up rather than to a pack).

    .venv/bin/python -m bench.compile [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from engine.cli.validate import validate_paths
from engine.pipeline import run_pipeline

RULES = Path(__file__).resolve().parent.parent / "rules"

__all__ = ["RULES", "compile_figures", "main", "packs"]


def packs() -> list[Path]:
    return sorted(p for p in RULES.iterdir() if (p / "pack.yaml").is_file())


def _median_ms(action: object, repeat: int) -> float:
    assert callable(action)
    action()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compile_figures(repeat: int = 5) -> dict[str, str]:
    """``compile_ms_<pack>`` for every pack in rules/ and ``validate_ms_rules``."""
    out: dict[str, str] = {}
    for pack in packs():
        out[f"compile_ms_{pack.name}"] = f"{_median_ms(lambda pack=pack: run_pipeline(pack), repeat):.0f}"

    def validate_all() -> None:
        errors, _ = validate_paths([RULES])
        if errors:
            raise AssertionError(f"rules/ does not validate: {errors[0]}")

    out["validate_ms_rules"] = f"{_median_ms(validate_all, max(1, repeat // 2)):.0f}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for key, value in compile_figures(args.repeat).items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
