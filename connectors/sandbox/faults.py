"""Fault injection: random at a seeded rate, or scripted per test ("next write to /invoice commits,
then times out").

A fault *after commit* is the hard case for clients: the write is stored (and remembered under its
requestid) but the client sees a 5xx, a 429 or a timeout. Every injected fault is recorded in
:attr:`FaultInjector.history` so tests can assert what happened.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace
from enum import Enum

__all__ = ["FaultInjector", "FaultKind", "FaultRule", "InjectedFault"]


class FaultKind(Enum):
    SERVER_ERROR = "server_error"  # HTTP 5xx with a SystemFault body
    THROTTLE = "throttle"  # HTTP 429, fault 3001
    TIMEOUT = "timeout"  # no answer in time


@dataclass(frozen=True)
class FaultRule:
    """A scripted fault: which requests it matches and how many times it fires."""

    kind: FaultKind
    after_commit: bool = True  # only meaningful for writes; reads always fail before doing anything
    target: str | None = None  # URL segment after the realm: "invoice", "batch", "query", "cdc", "upload"…
    method: str | None = None
    realm_id: str | None = None
    writes_only: bool = True
    times: int = 1
    status: int = 503

    def matches(self, method: str, target: str, realm_id: str, is_write: bool) -> bool:
        return ((self.target is None or self.target.lower() == target.lower())
                and (self.method is None or self.method.upper() == method.upper())
                and (self.realm_id is None or self.realm_id == realm_id)
                and (is_write or not self.writes_only))


@dataclass(frozen=True)
class InjectedFault:
    """One fault the sandbox decided to inject."""

    kind: FaultKind
    after_commit: bool
    status: int
    method: str
    target: str
    scripted: bool


class FaultInjector:
    """Decides, per request, whether to inject a fault. Deterministic for a given seed and request order."""

    def __init__(self, rate: float = 0.0, seed: int = 0) -> None:
        self.rate = rate
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.history: list[InjectedFault] = []

    def script(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def next_write(self, target: str, kind: FaultKind = FaultKind.TIMEOUT, *, after_commit: bool = True,
                   times: int = 1, status: int = 503) -> None:
        """Shorthand: the next ``times`` writes to ``target`` fail with ``kind``."""
        self.script(FaultRule(kind, after_commit, target, "POST", times=times, status=status))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.history.clear()

    def pick(self, method: str, target: str, realm_id: str, is_write: bool) -> InjectedFault | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.matches(method, target, realm_id, is_write):
                    if rule.times <= 1:
                        del self._rules[index]
                    else:
                        self._rules[index] = replace(rule, times=rule.times - 1)
                    fault = InjectedFault(rule.kind, rule.after_commit and is_write, rule.status, method, target,
                                          True)
                    self.history.append(fault)
                    return fault
            if self.rate <= 0 or self._random.random() >= self.rate:
                return None
            kind = self._random.choice(list(FaultKind))
            status = self._random.choice((500, 502, 503)) if kind is FaultKind.SERVER_ERROR else 503
            fault = InjectedFault(kind, is_write, status, method, target, False)
            self.history.append(fault)
            return fault
