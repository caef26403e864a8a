"""QBO faults: the codes the sandbox answers with, and the JSON body QBO wraps them in.

Each code is registered once with its message, fault type and HTTP status, so handlers only say
*which* fault happened and *why* (the Detail) and never repeat QBO's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULTS", "FaultSpec", "QboError", "fault_body"]


@dataclass(frozen=True)
class FaultSpec:
    """How QBO reports one error code."""

    code: str
    message: str
    type: str = "ValidationFault"
    status: int = 400


FAULTS: Mapping[str, FaultSpec] = {
    spec.code: spec
    for spec in (
        FaultSpec("500", "Unsupported Operation"),
        FaultSpec("600", "Duplicate Request ID"),
        FaultSpec("610", "Object Not Found"),
        FaultSpec("620", "TxnID Cannot Be Linked"),
        FaultSpec("1040", "Batch size exceeds allowed limit"),
        FaultSpec("2010", "Request has invalid or unsupported property"),
        FaultSpec("2020", "Required param missing, need to supply the required value for the API"),
        FaultSpec("2050", "String length specified does not match the supported length"),
        FaultSpec("2170", "Invalid Enumeration"),
        FaultSpec("2500", "Invalid Reference Id"),
        FaultSpec("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "SERVICE", 429),
        FaultSpec("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                  "SERVICE", 403),
        FaultSpec("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                  "AUTHENTICATION", 401),
        FaultSpec("4000", "Error parsing query"),
        FaultSpec("5010", "Stale Object Error"),
        FaultSpec("6000", "A business validation error has occurred while processing your request"),
        FaultSpec("6140", "Duplicate Document Number Error"),
        FaultSpec("6240", "Duplicate Name Exists Error"),
        FaultSpec("6540", "Deposited Transaction cannot be changed"),
        FaultSpec("10000", "An application error has occurred while processing your request", "SystemFault", 500),
    )
}


class QboError(Exception):
    """A QBO fault raised anywhere in the sandbox and turned into a fault body at the edge."""

    def __init__(self, code: str, detail: str = "", element: str = "", status: int | None = None) -> None:
        self.spec = FAULTS[code]
        self.detail = detail or self.spec.message
        self.element = element
        self.status = status if status is not None else self.spec.status
        super().__init__(f"{code} {self.spec.message}: {self.detail}")

    @property
    def code(self) -> str:
        return self.spec.code

    def fault(self) -> dict[str, Any]:
        """The ``Fault`` object (without the envelope), as batch items carry it."""
        error = {"Message": self.spec.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Error": [error], "type": self.spec.type}


def fault_body(error: QboError, time: str) -> dict[str, Any]:
    return {"Fault": error.fault(), "time": time}
