"""Sources: the product side of a flow, by connector name (a registry, not a chain of ifs).

``file`` reads JSON/NDJSON/CSV files declared in the connection; ``http`` reads a product API declared
in the pack (``connectors/http``). A source yields plain records for one resource. Factories receive the
connection and a ``SourceContext`` (settings, secret names, store, profile, test transports); a
connector that needs none of it ignores it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connectors.file import append_write, read_records
from connectors.http import HttpProduct
from engine.errors import PasserelleError, RuleError
from engine.model import Connection
from engine.resolve import ResolvedPack
from engine.store import Store

__all__ = ["SOURCES", "FileSource", "SourceContext", "sources_for", "sources_for_pack"]


@dataclass(frozen=True)
class FileSource:
    connection: Connection

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        options = (self.connection.options.get("resources") or {}).get(resource)
        if options is None:
            raise PasserelleError([RuleError("E321", f"connection {self.connection.name!r} has no resource {resource!r}",
                                             self.connection.loc)])
        yield from read_records(Path(self.connection.base_dir), options)

    def writable(self) -> bool:
        return any("writes" in options for options in (self.connection.options.get("resources") or {}).values())

    def write(self, resource: str, payload: Mapping[str, Any], target_id: str | int | None = None) -> Mapping[str, Any]:
        """Append the write to the resource's ``writes`` file (relative to the current folder)."""
        options = (self.connection.options.get("resources") or {}).get(resource) or {}
        if "writes" not in options:
            raise PasserelleError([RuleError("E906", f"resource {resource!r} of connection {self.connection.name!r} "
                                             "cannot be written to", self.connection.loc,
                                             hint="declare `writes: PATH` (an NDJSON file) on the resource")])
        return append_write(Path(str(options["writes"])), resource, payload, target_id)

    def commit_cursors(self) -> None:
        """Files have no incremental-read cursor."""


@dataclass(frozen=True)
class SourceContext:
    """What a source may need beyond its connection; every field is optional."""

    settings: Mapping[str, Any] | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)  # secret name -> environment variable name
    environ: Mapping[str, str] | None = None  # None: the process environment
    store: Store | None = None  # for incremental-read cursors
    profile: str | None = None
    transports: Mapping[str, httpx.BaseTransport] = field(default_factory=dict)  # by connection name (tests)


def _file(conn: Connection, context: SourceContext) -> FileSource:
    return FileSource(conn)


def _http(conn: Connection, context: SourceContext) -> HttpProduct:
    return HttpProduct(conn, settings=context.settings, secrets=context.secrets, environ=context.environ,
                       store=context.store, profile=context.profile, transport=context.transports.get(conn.name))


SOURCES: Mapping[str, Callable[[Connection, SourceContext], Any]] = {"file": _file, "http": _http}


def sources_for(connections: Mapping[str, Connection], *, settings: Mapping[str, Any] | None = None,
                secrets: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
                store: Store | None = None, profile: str | None = None,
                transports: Mapping[str, httpx.BaseTransport] | None = None) -> dict[str, Any]:
    """A source for every connection whose connector can read records here."""
    context = SourceContext(settings, secrets or {}, environ, store, profile, transports or {})
    return {name: SOURCES[conn.connector](conn, context) for name, conn in connections.items()
            if conn.connector in SOURCES}


def sources_for_pack(resolved: ResolvedPack, *, store: Store | None = None, environ: Mapping[str, str] | None = None,
                     transports: Mapping[str, httpx.BaseTransport] | None = None) -> dict[str, Any]:
    """The sources of a resolved profile, with its settings, secret mapping and name filled in."""
    profile = resolved.profile.name if resolved.profile else resolved.pack.meta.name
    return sources_for(resolved.connections, settings=resolved.setting_values(), secrets=resolved.secrets,
                       environ=environ, store=store, profile=profile, transports=transports)
