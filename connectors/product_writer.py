"""A product connection as the runtime's ``Writer``: write-back flows (statuses, payments, lists) go
through the connection's declared write endpoints. Failures become classified outcomes, so they
land in the error history like QBO's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from engine.errors import PasserelleError
from engine.runtime.ports import TargetWrite, WriteOutcome

__all__ = ["ProductWriter", "ReadOnly", "writers_for"]


class _Writes(Protocol):
    def write(self, resource: str, payload: Mapping[str, Any], target_id: str | int | None = None) -> Mapping[str, Any]:
        ...


class ProductWriter:
    def __init__(self, product: _Writes, id_fields: Mapping[str, str]) -> None:
        self.product = product
        self.id_fields = id_fields

    def write(self, write: TargetWrite) -> WriteOutcome:
        payload = write.payload
        if write.operation == "update" and write.owned_fields:  # fields the flow does not own stay as the product has them
            payload = {k: v for k, v in payload.items() if k in write.owned_fields}
        try:
            answer = self.product.write(write.entity, payload, write.target_id)
        except PasserelleError as exc:
            error = exc.errors[0]
            return WriteOutcome(write, False, fault_class="transient" if error.code == "E901" else "config",
                                code=error.code, message=error.message, hint=error.hint, resync_may_fix=True)
        ident = answer.get(self.id_fields.get(write.entity, "id")) or write.target_id
        return WriteOutcome(write, True, record={**answer, "Id": None if ident is None else str(ident)})

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        return [self.write(w) for w in writes]


class ReadOnly:
    """A product connection that cannot be written to (a ``file`` connection without a ``writes`` file): its
    writes fail clearly instead of reaching another system."""

    def __init__(self, name: str, connector: str) -> None:
        self.name, self.connector = name, connector

    def write(self, write: TargetWrite) -> WriteOutcome:
        return WriteOutcome(write, False, fault_class="config", code="E906",
                            message=f"connection {self.name!r} ({self.connector}) cannot be written to",
                            hint="write-back flows need an http connection with write endpoints, or a file resource with "
                                 "`writes: PATH`")

    def write_many(self, writes: Sequence[TargetWrite]) -> list[WriteOutcome]:
        return [self.write(w) for w in writes]


def writers_for(sources: Mapping[str, Any], connections: Mapping[str, Any]) -> dict[str, Any]:
    """A writer for every product connection: http ones write, others refuse (QBO has its own writer)."""
    out: dict[str, Any] = {}
    for name, conn in connections.items():
        source = sources.get(name)
        if conn.connector == "qbo":
            continue
        writable = getattr(source, "writable", None)
        if source is not None and hasattr(source, "write") and hasattr(source, "commit_cursors") and (
                writable is None or writable()):
            resources = conn.options.get("resources") or {}
            out[name] = ProductWriter(source, {r: str(o.get("id", "id")) for r, o in resources.items()})
        else:
            out[name] = ReadOnly(name, conn.connector)
    return out
