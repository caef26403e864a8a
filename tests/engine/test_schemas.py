"""The format schemas are what editors autocomplete from: every property is described, objects closed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SCHEMAS = sorted((Path(__file__).resolve().parents[2] / "schemas").glob("*.schema.json"))


def _objects(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, value in node.items():
            if key not in ("if",):  # an `if` clause only tests a value; it describes nothing
                yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}[{index}]")


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(schema_path: Path) -> None:
    Draft202012Validator.check_schema(json.loads(schema_path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=lambda p: p.name)
def test_every_property_has_a_description(schema_path: Path) -> None:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    missing = [f"{path}.{name}" for path, node in _objects(schema, "") for name, prop in node["properties"].items()
               if isinstance(prop, dict) and "description" not in prop and "$ref" not in prop]
    assert missing == []


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=lambda p: p.name)
def test_objects_with_fixed_keys_are_closed(schema_path: Path) -> None:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    open_objects = [path for path, node in _objects(schema, "")
                    if node.get("type") == "object" and "additionalProperties" not in node and "/allOf" not in path
                    and "allOf" not in node]  # a connection is closed by the branch its `connector` selects
    assert open_objects == []
