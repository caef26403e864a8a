"""The typed catalogue of QBO faults, and the one exception that carries them.

Exception tree (everything the connector raises derives from ``QboFault``)::

    QboFault                  a fault, as a frozen ``Fault`` value in ``.fault``
    ├── ReconnectRequired     the saved authorisation is gone (invalid_grant): run `passerelle connect`
    └── UncertainOutcome      a write got no definite answer and could not be proven done or not done

Every fault has a *class* that tells the runtime what to do with the record:

- ``config``: the company or the connection must be fixed (token, permissions, closed books); stop the run
  or the flow, retrying the record alone will not help;
- ``data``: this record is wrong for QBO (missing field, unknown reference, duplicate number); record an
  error and carry on with the others;
- ``transient``: the service was busy or broken (throttle, 5xx, timeout); retry later;
- ``conflict``: someone changed the QBO document; re-read and decide.

Codes are looked up in a registry (:data:`CATALOGUE`); unknown codes fall back on QBO's code ranges and
then on the HTTP status, so a new code is still classed sensibly. Messages never carry tokens or secrets:
only QBO's own ``Message``/``Detail`` and the connector's words go in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree

__all__ = [
    "CATALOGUE", "Fault", "FaultClass", "FaultSpec", "QboFault", "ReconnectRequired", "UncertainOutcome",
    "fault_from_body", "fault_from_item", "fault_from_response_parts", "local_fault", "spec_for",
]


class FaultClass(StrEnum):
    CONFIG = "config"
    DATA = "data"
    TRANSIENT = "transient"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class FaultSpec:
    """What a kind of fault means for the user: its class, words, fix and whether a resync may fix it.

    ``resync_may_fix`` is true when running the same record again can succeed without changing the rule
    pack or the profile: the fault was transient, it was a conflict that a re-read settles, or the data
    can be corrected in QBO or in the source product.
    """

    kind: str
    fault_class: FaultClass
    message: str
    hint: str
    resync_may_fix: bool


@dataclass(frozen=True)
class Fault:
    """One fault as it reached the connector: the spec plus QBO's code, detail and context."""

    spec: FaultSpec
    code: str = ""
    detail: str = ""
    element: str = ""
    status: int | None = None
    entity: str = ""
    operation: str = ""
    intuit_tid: str = ""

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def fault_class(self) -> FaultClass:
        return self.spec.fault_class

    @property
    def message(self) -> str:
        """A sentence for the user: what happened, with QBO's detail when it adds something."""
        text = self.spec.message
        if self.detail and self.detail.lower() not in text.lower():
            text = f"{text}: {self.detail}"
        return text

    @property
    def hint(self) -> str:
        return self.spec.hint

    @property
    def resync_may_fix(self) -> bool:
        return self.spec.resync_may_fix

    @property
    def transient(self) -> bool:
        return self.spec.fault_class is FaultClass.TRANSIENT

    def about(self, entity: str = "", operation: str = "") -> Fault:
        """The same fault, placed on an entity and operation."""
        return replace(self, entity=entity or self.entity, operation=operation or self.operation)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for plans, outcomes and the error history."""
        return {"kind": self.kind, "class": self.fault_class.value, "code": self.code, "message": self.message,
                "hint": self.hint, "resync_may_fix": self.resync_may_fix, "element": self.element,
                "status": self.status, "entity": self.entity, "operation": self.operation,
                "intuit_tid": self.intuit_tid}

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        where = f" ({self.operation} {self.entity})".replace("( ", "(") if self.entity or self.operation else ""
        return f"{self.fault_class.value} fault {self.kind}{code}{where}: {self.message}"


class QboFault(Exception):
    """The connector's only exception type; ``.fault`` holds the details."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(str(fault))
        self.fault = fault


class ReconnectRequired(QboFault):
    """QBO refused the stored refresh token: the user must authorise the company again."""


class UncertainOutcome(QboFault):
    """A write got no definite answer and the recovery could not tell whether it was done."""


def _spec(kind: str, fault_class: FaultClass, message: str, hint: str, resync: bool) -> FaultSpec:
    return FaultSpec(kind, fault_class, message, hint, resync)


C, D, T, X = FaultClass.CONFIG, FaultClass.DATA, FaultClass.TRANSIENT, FaultClass.CONFLICT

# Kinds, each described once; codes and local conditions point at them.
KINDS: Mapping[str, FaultSpec] = {spec.kind: spec for spec in (
    _spec("authentication", C, "QuickBooks did not accept the access token",
          "run `passerelle connect PROFILE` if this persists; tokens are refreshed automatically", False),
    _spec("reconnect", C, "The QuickBooks authorisation has expired or was revoked",
          "run `passerelle connect PROFILE` to reconnect the company; the sync state is kept", False),
    _spec("authorization", C, "The app is not allowed to do this in the QuickBooks company",
          "check that the connected user is an admin and the company subscription is active", False),
    _spec("company_status", C, "The QuickBooks company cannot be written to (subscription ended or suspended)",
          "reactivate the QuickBooks subscription, then resync", True),
    _spec("throttled", T, "QuickBooks throttled the requests (too many at once)",
          "nothing to do: the connector waits and retries; lower the concurrency if it persists", True),
    _spec("server_error", T, "QuickBooks had an internal error", "retry later; it usually passes", True),
    _spec("timeout", T, "QuickBooks did not answer in time", "retry later; it usually passes", True),
    _spec("connection", T, "The connection to QuickBooks failed", "check the network and the base URL", True),
    _spec("uncertain", T, "The write got no answer and it could not be proven whether QuickBooks applied it",
          "resync: the same request id is replayed, so it cannot be applied twice", True),
    _spec("stale_object", X, "Someone changed this QuickBooks document since it was read",
          "review the document in QuickBooks, then resync to re-apply the mapped fields", True),
    _spec("conflict", X, "The fields Passerelle writes were changed in QuickBooks",
          "decide which version wins: revert the change in QuickBooks, or change the record in the source, then "
          "resync", True),
    _spec("duplicate_number", D, "Another QuickBooks document already uses this document number",
          "change the number prefix setting, or rename the other document in QuickBooks, then resync", True),
    _spec("duplicate_name", D, "A customer, vendor or employee with this name already exists in QuickBooks",
          "match the existing record (name or e-mail match rule) or rename one of them, then resync", True),
    _spec("validation", D, "QuickBooks rejected the document as invalid",
          "correct the record in the source or the mapping, then resync", True),
    _spec("invalid_reference", D, "The document refers to a QuickBooks record that is missing or inactive",
          "reactivate the referenced record in QuickBooks or fix the lookup table, then resync", True),
    _spec("not_found", D, "The QuickBooks record does not exist (deleted, or made inactive)",
          "check whether the document was deleted in QuickBooks; resync recreates it if the flow allows", True),
    _spec("closed_period", D, "The accounting period is closed in QuickBooks",
          "reopen the period (closing date) in QuickBooks or date the document after it, then resync", True),
    _spec("business_rule", D, "QuickBooks refused the document by a business rule",
          "read the detail: usually a tax code, account or amount to fix in the source or mapping", True),
    _spec("deposited", D, "The payment is already deposited and cannot be changed",
          "remove it from the deposit in QuickBooks first, then resync", True),
    _spec("unsupported_operation", C, "QuickBooks does not support this operation for this entity",
          "change the flow: use delete instead of void, or deactivate a name-list record", False),
    _spec("query_error", C, "QuickBooks could not parse the query", "fix the query in the rule pack", False),
    _spec("batch_too_large", C, "The batch has more items than QuickBooks allows (30)",
          "this is a connector bug: report it", False),
    _spec("duplicate_request_id", C, "The request id was already used for a different request",
          "the payload changed under the same request id; resync computes a new one", True),
    _spec("bad_request", C, "QuickBooks refused the request", "check the base URL and the minor version", False),
    _spec("configuration", C, "The QuickBooks connection is not configured correctly",
          "see the message; then run `passerelle connect PROFILE`", False),
    _spec("unknown", D, "QuickBooks returned an unexpected error", "read the detail; resync if it looks transient",
          True),
)}

# QBO fault code -> kind (reference/qbo-api.md §10).
_CODES: Mapping[str, str] = {
    "100": "authentication", "120": "authorization", "500": "unsupported_operation",
    "600": "duplicate_request_id", "610": "not_found", "620": "validation", "1040": "batch_too_large",
    "2010": "validation", "2020": "validation", "2050": "validation", "2170": "validation", "2210": "validation",
    "2500": "invalid_reference", "3001": "throttled", "3100": "authorization", "3200": "authentication",
    "4000": "query_error", "5010": "stale_object", "6000": "business_rule", "6140": "duplicate_number",
    "6190": "company_status", "6210": "closed_period", "6240": "duplicate_name", "6540": "deposited",
    "10000": "server_error",
}

CATALOGUE: Mapping[str, FaultSpec] = {code: KINDS[kind] for code, kind in _CODES.items()}

_STATUS: Mapping[int, str] = {401: "authentication", 403: "authorization", 404: "bad_request", 429: "throttled"}
_CODE_IN_MESSAGE = re.compile(r"errorCode=0*(\d+)")


def spec_for(code: str, status: int | None = None) -> FaultSpec:
    """The spec for a QBO code; unknown codes are classed by QBO's ranges, then by HTTP status."""
    if code in CATALOGUE:
        return CATALOGUE[code]
    if status is not None and status >= 500:
        return KINDS["server_error"]
    if status is not None and status in _STATUS:
        return KINDS[_STATUS[status]]
    if code.isdigit():
        number = int(code)
        if number < 500:
            return KINDS["authentication"]
        if number < 600:
            return KINDS["unsupported_operation"]
        if 2000 <= number < 5000:
            return KINDS["validation"]
        if number >= 10000:
            return KINDS["server_error"]
    return KINDS["unknown"]


def local_fault(kind: str, detail: str = "", *, entity: str = "", operation: str = "", status: int | None = None
                ) -> Fault:
    """A fault the connector itself detected (timeout, conflict, missing configuration …)."""
    return Fault(KINDS[kind], detail=detail, entity=entity, operation=operation, status=status)


def fault_from_item(fault: Mapping[str, Any], status: int | None = None, intuit_tid: str = "") -> Fault:
    """A ``Fault`` object as QBO sends it (``{"Error": [...], "type": ...}``), also inside batch items."""
    errors = fault.get("Error") or [{}]
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else {}
    code = str(first.get("code") or "")
    message = str(first.get("Message") or "")
    if not code:
        found = _CODE_IN_MESSAGE.search(message)
        code = found.group(1) if found else ""
    details = [str(err.get("Detail") or err.get("Message") or "") for err in errors if isinstance(err, Mapping)]
    detail = "; ".join(dict.fromkeys(text for text in details if text))
    return Fault(spec_for(code, status), code=code, detail=detail, element=str(first.get("element") or ""),
                 status=status, intuit_tid=intuit_tid)


def _xml_fault(body: bytes) -> Mapping[str, Any] | None:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    fault = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for error in (el for el in fault.iter() if el.tag.rsplit("}", 1)[-1] == "Error"):
        texts = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in error}
        errors.append({"code": error.get("code", ""), "Message": texts.get("Message", ""),
                       "Detail": texts.get("Detail", ""), "element": error.get("element", "")})
    return {"Error": errors, "type": fault.get("type", "")}


def fault_from_body(body: bytes, status: int, intuit_tid: str = "") -> Fault | None:
    """The fault in a response body (JSON or XML), or None when the body holds none."""
    stripped = body.lstrip()
    if stripped.startswith(b"<"):
        found = _xml_fault(stripped)
        return fault_from_item(found, status, intuit_tid) if found is not None else None
    try:
        data = json.loads(body) if stripped else None
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, Mapping) and isinstance(data.get("Fault"), Mapping):
        return fault_from_item(data["Fault"], status, intuit_tid)
    if isinstance(data, Mapping) and isinstance(data.get("fault"), Mapping):  # some gateway errors
        return fault_from_item({"Error": data["fault"].get("error") or []}, status, intuit_tid)
    return None


def fault_from_response_parts(body: bytes, status: int, intuit_tid: str = "") -> Fault | None:
    """The fault of an HTTP answer: the body's Fault (even with 200), else one made from a non-2xx status."""
    found = fault_from_body(body, status, intuit_tid)
    if found is not None:
        return found
    if 200 <= status < 300:
        return None
    return Fault(spec_for("", status), detail=f"HTTP {status}", status=status, intuit_tid=intuit_tid)
