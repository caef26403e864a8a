"""The mapping benchmark's two sides agree (no timing here: see bench/README.md)."""

from __future__ import annotations

from bench.mapping import check_equal, generate, main


def test_compiled_and_handwritten_mappings_agree() -> None:
    records = generate(50, seed=11)
    assert any(r["v3_status"] == "draft" for r in generate(200, seed=11))
    assert check_equal(records) == 50


def test_benchmark_runs_and_prints_figures(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--records", "30", "--sample", "30"]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    assert {"mapping_compiled_rps", "mapping_handwritten_rps", "mapping_ratio"} <= set(out)
