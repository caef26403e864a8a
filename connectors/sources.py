"""Sources: the product side of a flow, by connector name (a registry, not a chain of ifs).

``file`` reads JSON/NDJSON/CSV files declared in the connection; ``http`` (declared APIs) is a
separate connector. A source yields plain records for one resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.file import read_records
from engine.errors import PasserelleError, RuleError
from engine.model import Connection

__all__ = ["SOURCES", "FileSource", "sources_for"]


@dataclass(frozen=True)
class FileSource:
    connection: Connection

    def records(self, resource: str) -> Iterator[Mapping[str, Any]]:
        options = (self.connection.options.get("resources") or {}).get(resource)
        if options is None:
            raise PasserelleError([RuleError("E321", f"connection {self.connection.name!r} has no resource {resource!r}",
                                             self.connection.loc)])
        yield from read_records(Path(self.connection.base_dir), options)


SOURCES: Mapping[str, Callable[[Connection], Any]] = {"file": FileSource}


def sources_for(connections: Mapping[str, Connection]) -> dict[str, Any]:
    """A source for every connection whose connector can read records here."""
    return {name: SOURCES[conn.connector](conn) for name, conn in connections.items() if conn.connector in SOURCES}
