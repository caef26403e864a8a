"""What a job is, and the seam every queue implements.

A job is one unit of work for one profile: a scheduled sync, the events received for it, a manual
"sync now" (of everything or one record), the resync of one error, or a first sync. Jobs of one QBO
company run one at a time (``lock``); a request for work already queued joins the queued job
(``coalesce_key``), so a burst of webhooks makes a handful of jobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["KINDS", "STATES", "JobInfo", "JobQueue", "JobResult", "JobSpec"]

KINDS = ("scheduled", "event", "manual", "resync", "first")
STATES = ("queued", "running", "done", "failed", "retried")


@dataclass(frozen=True)
class JobSpec:
    profile: str              # the profile's store key, ``pack/profile``
    kind: str                 # one of KINDS
    realm: str | None = None  # its QBO company, when known: the unit of serialisation
    record: str | None = None  # a manual job's source key, or a resync's error id

    @property
    def coalesce_key(self) -> str:
        return f"{self.kind}:{self.profile}:{self.record or ''}"

    @property
    def lock(self) -> str:
        return f"realm:{self.realm}" if self.realm else f"profile:{self.profile}"

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "kind": self.kind, "realm": self.realm, "record": self.record}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSpec:
        return cls(str(data["profile"]), str(data["kind"]), data.get("realm"), data.get("record"))


@dataclass(frozen=True)
class JobResult:
    """What a job did: the runs it made, what it counted, and why it did nothing when it did nothing."""

    runs: tuple[int, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"runs": list(self.runs), "counts": dict(self.counts), "note": self.note}


@dataclass(frozen=True)
class JobInfo:
    id: int
    spec: JobSpec
    state: str       # one of STATES
    attempts: int = 0
    coalesced: int = 0
    queued_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None
        return {"id": self.id, **self.spec.to_json(), "state": self.state, "attempts": self.attempts,
                "coalesced": self.coalesced, "queued_at": when(self.queued_at), "started_at": when(self.started_at),
                "finished_at": when(self.finished_at), "error": self.error}


class JobQueue(Protocol):
    """Where jobs wait. ``defer`` returns the job's id: a queued job's own id when the request joined it;
    ``delay`` holds a new job back that many seconds, so what arrives meanwhile joins it (webhook bursts)."""

    def defer(self, spec: JobSpec, *, delay: float = 0.0) -> int: ...

    def jobs(self, *, profile: str | None = None, states: Sequence[str] = (), limit: int = 200) -> list[JobInfo]: ...

    def counts(self, profiles: Sequence[str]) -> dict[str, dict[str, int]]:
        """Jobs by state for each profile (profile -> state -> n)."""
        ...

    def close(self) -> None: ...
