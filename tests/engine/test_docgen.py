"""docs/reference.md is generated from the schemas and registries, and covers every schema key."""

from __future__ import annotations

from engine.docgen import ERROR_FAMILIES, error_codes, reference_path, render_reference, schema_property_names
from engine.functions import FUNCTIONS
from engine.resources import schema
from engine.templates import _ENV


def test_reference_is_up_to_date() -> None:
    path = reference_path()
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert current == render_reference(), "docs/reference.md is out of date: run `python -m engine.docgen`"


def test_rendering_is_deterministic() -> None:
    assert render_reference() == render_reference()


def test_every_schema_property_is_documented() -> None:
    page = render_reference()
    names = schema_property_names(schema("pack.schema.json")) | schema_property_names(schema("profile.schema.json"))
    assert len(names) > 50
    missing = sorted(name for name in names if f"`{name}`" not in page and f".{name}`" not in page)
    assert not missing, f"schema keys missing from the reference: {missing}"


def test_functions_filters_and_error_families_are_listed() -> None:
    page = render_reference()
    for name in FUNCTIONS:
        assert f"| `{name}` |" in page
    for name in _ENV.filters:
        assert f"| `{name}` |" in page
    codes = error_codes()
    assert {"E100", "E201", "E401", "E601"} <= set(codes)
    for code in codes:
        assert code[:2] in ERROR_FAMILIES, f"no family description for {code}"
        assert f"| {code} |" in page


def test_check_mode_reports_stale_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from engine.docgen import main

    target = tmp_path / "reference.md"
    assert main(["--check", "--output", str(target)]) == 1
    assert "python -m engine.docgen" in capsys.readouterr().err
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0
