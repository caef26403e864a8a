"""bench/run.py runs end to end on tiny sizes and prints every headline figure (no timing asserted:
the figures themselves are the benchmark's business, see bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import HEADLINE, main


def test_the_suite_runs_on_tiny_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "RESULTS.md"
    assert main(["--tiny", "--results", str(results)]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    assert set(HEADLINE) <= set(out)
    assert {k for k in out if k.startswith("compile_ms_")} == {
        f"compile_ms_{p.name}" for p in (Path(__file__).resolve().parents[2] / "rules").iterdir()
        if (p / "pack.yaml").is_file()}
    for key in HEADLINE:
        if key.startswith("fleet_"):  # processes on PostgreSQL for minutes: not part of the tiny run
            assert out[key] == "n/a", key
        elif key != "webhook_acks_per_s":
            assert float(out[key]) >= 0, key
    text = results.read_text(encoding="utf-8")
    assert "| commit |" in text and "`plan_peak_mb_100k`" in text
