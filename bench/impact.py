"""Benchmark: `passerelle impact` on a pack with many profiles (issue 18: fast enough for every commit).

Builds a rules folder holding the FreshBooks pack (its 10 cases) and N profiles (default 50): most keep
the pack's `Office Supplies` expense category row, every fifth replaces it with its own; some change
other settings. A copy of the folder is the base. Measured, each once after a warm-up of the imports,
as wall time (``_s``) and as this process's CPU time (``_cpu_s``, steadier on a shared machine):

- ``impact_unchanged_s``: every profile against an identical base (same files: nothing is compiled or
  planned);
- ``impact_row_edit_s``: the shared row edited; the profiles that keep it are compiled and planned
  against all the cases on both sides, the others are resolved and found unchanged;
- ``impact_cli_unchanged_s``: the same unchanged comparison through the CLI in a fresh process against
  ``--base HEAD`` of a git repository (start-up, ``git archive`` and extraction included; skipped with
  ``--no-cli``).

    .venv/bin/python -m bench.impact [--profiles N] [--no-cli]

Prints ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.impact import Impact, run_impact

ROOT = Path(__file__).resolve().parent.parent
ROW = "      Office Supplies: Fournitures administratives\n"

__all__ = ["build_rules", "main"]


def build_rules(where: Path, profiles: int) -> Path:
    rules = where / "rules"
    shutil.copytree(ROOT / "rules/freshbooks", rules / "freshbooks")
    customers = rules / "freshbooks/customers"  # the shipped customers stay: the cases name them
    demo = (ROOT / "rules/freshbooks/customers/demo.yaml").read_text(encoding="utf-8")
    for n in range(profiles):
        text = demo.replace("name: demo", f"name: customer-{n:03d}").replace("invoice_prefix: FB",
                                                                               f"invoice_prefix: C{n}-")
        if n % 5 == 0:
            text += "tables:\n  expense_categories:\n    replace: {Office Supplies: Honoraires}\n"
        (customers / f"customer-{n:03d}.yaml").write_text(text, encoding="utf-8")
    return rules


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=50)
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI run (start-up and git archive)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-impact-") as tmp:
        base = build_rules(Path(tmp) / "base", args.profiles)
        head = build_rules(Path(tmp) / "head", args.profiles)
        files = sorted((head / "freshbooks/customers").glob("*.yaml"))
        run_impact(files[:1], head, base, "base")  # warm-up: imports, JSON Schema
        results: list[Impact] = []
        wall, cpu = _timed(lambda: results.append(run_impact(files, head, base, "base")))
        print(f"profiles={len(files)}")
        print(f"cases={len(list((head / 'freshbooks/cases').iterdir()))}")
        print(f"impact_unchanged_s={wall:.2f}")
        print(f"impact_unchanged_cpu_s={cpu:.2f}")
        print(f"impact_unchanged_exit={results[-1].exit_code}")
        tables = head / "freshbooks/tables.yaml"
        tables.write_text(tables.read_text(encoding="utf-8").replace(ROW, ROW.replace(
            "Fournitures administratives", "Frais postaux et télécommunications")), encoding="utf-8")
        wall, cpu = _timed(lambda: results.append(run_impact(files, head, base, "base")))
        print(f"impact_row_edit_s={wall:.2f}")
        print(f"impact_row_edit_cpu_s={cpu:.2f}")
        print(f"impact_row_edit_changed_profiles={sum(1 for p in results[-1].profiles if p.changed)}")
        if shutil.which("git") and not args.no_cli:
            repo = Path(tmp) / "base"
            git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
            subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
            subprocess.run([*git, "add", "rules"], cwd=repo, check=True)
            subprocess.run([*git, "commit", "-q", "-m", "packs"], cwd=repo, check=True)
            command = [sys.executable, "-m", "engine.cli", "impact", "--all", "--rules", str(repo / "rules")]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=False)
            print(f"impact_cli_unchanged_s={time.perf_counter() - start:.2f}")
            print(f"impact_cli_unchanged_exit={done.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
