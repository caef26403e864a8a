"""`ref: {connection}`: a flow finds a record of another resource of a product connection (the catalogue entry
behind a line), read once per plan; bad declarations are located errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.context import StaticReferenceData
from engine.errors import PasserelleError
from engine.evaluate import evaluate
from engine.pipeline import run_pipeline
from engine.runtime.source_records import SourceBackedReferenceData

PACK = """
passerelle: 1
kind: pack
pack: {{name: shop, version: 1.0.0, title: Shop, description: Lines priced from the catalogue.}}
connections:
  qbo: {{connector: qbo}}
  product:
    connector: http
    base_url: https://api.example.com
    resources:
      orders: {{path: /orders}}
      catalogue: {{path: /catalogue}}
flows:
  orders:
    from: {{connection: product, entity: orders}}
    to: {{connection: qbo, entity: Invoice}}
    key: str(record.id)
    fields:
      PrivateNote:
        ref: {{connection: {conn}, entity: {entity}, by: code, value: record.code, field: sku, on_missing: {missing}}}
"""


def _loaded(tmp_path: Path, conn: str = "product", entity: str = "catalogue", missing: str = "omit") -> Any:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.format(conn=conn, entity=entity, missing=missing), encoding="utf-8")
    return run_pipeline(path)


class Catalogue:
    def __init__(self) -> None:
        self.reads = 0

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        assert resource == "catalogue"
        self.reads += 1
        yield from ({"code": "A", "sku": "SKU-A"}, {"code": "B", "sku": "SKU-B"})


def test_a_ref_finds_a_field_of_a_record_of_another_resource_read_once(tmp_path: Path) -> None:
    flow = _loaded(tmp_path).compiled.flows["orders"]
    source = Catalogue()
    refs = SourceBackedReferenceData(StaticReferenceData({}), {"product": source})
    found = [evaluate(flow, {"id": n, "code": code}, {}, refs=refs).payload for n, code in enumerate("ABC")]
    assert found == [{"PrivateNote": "SKU-A"}, {"PrivateNote": "SKU-B"}, {}]  # C: none, omitted
    assert source.reads == 1


def test_a_missing_record_fails_the_record_by_default_policy(tmp_path: Path) -> None:
    flow = _loaded(tmp_path, missing="error").compiled.flows["orders"]
    refs = SourceBackedReferenceData(StaticReferenceData({}), {"product": Catalogue()})
    result = evaluate(flow, {"id": 1, "code": "Z"}, {}, refs=refs)
    assert result.action == "error" and "no catalogue record with code = 'Z' in product" in result.error.message


@pytest.mark.parametrize(("conn", "entity", "code", "text"), [
    ("qbo", "catalogue", "E320", "is a QBO connection"),
    ("nowhere", "catalogue", "E320", "is not a connection"),
    ("product", "catalog", "E321", "unknown resource 'catalog' of connection 'product'"),
])
def test_bad_declarations_are_located_errors(tmp_path: Path, conn: str, entity: str, code: str, text: str) -> None:
    with pytest.raises(PasserelleError) as caught:
        _loaded(tmp_path, conn, entity)
    error = next(e for e in caught.value.errors if e.code == code)
    assert text in error.message and error.loc.line == 20 and str(error.loc).startswith(str(tmp_path))
