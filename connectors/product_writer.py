"""A product connection as the runtime's ``Writer``: write-back flows (statuses, payments, lists) go
through the connection's declared write endpoints. Failures become classified outcomes, so they
land in the error history like QBO's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from engine.errors import PasserelleError
from engine.runtime.ports import TargetWrite, WriteOutcome

__all__ = ["ProductWriter", "writers_for"]


class _Writes(Protocol):
    def write(self, resource: str, payload: Mapping[str, Any], target_id: str | int | None = None) -> Mapping[str, Any]:
        ...


class ProductWriter:
    def __init__(self, product: _Writes, id_fields: Mapping[str, str]) -> None:
        self.product = product
        self.id_fields = id_fields

    def write(self, write: TargetWrite) -> WriteOutcome:
        try:
            answer = self.product.write(write.entity, write.payload, write.target_id)
        except PasserelleError as exc:
            error = exc.errors[0]
            return WriteOutcome(write, False, fault_class="transient" if error.code == "E901" else "config",
                                code=error.code, message=error.message, hint=error.hint, resync_may_fix=True)
        ident = answer.get(self.id_fields.get(write.entity, "id")) or write.target_id
        return WriteOutcome(write, True, record={**answer, "Id": None if ident is None else str(ident)})

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        return [self.write(w) for w in writes]


def writers_for(sources: Mapping[str, Any], connections: Mapping[str, Any]) -> dict[str, ProductWriter]:
    """A writer for every product source that can write (an ``http`` connection)."""
    out = {}
    for name, source in sources.items():
        if hasattr(source, "write") and hasattr(source, "commit_cursors"):
            resources = connections[name].options.get("resources") or {}
            out[name] = ProductWriter(source, {r: str(o.get("id", "id")) for r, o in resources.items()})
    return out
