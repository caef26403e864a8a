"""Attachment upload linked to a transaction: ``POST /upload`` with ``file_metadata_01`` + ``file_content_01``.

The multipart body is built here, not by httpx, so that it is byte-for-byte the same on every attempt
(the boundary derives from the requestid): QBO replays a repeated requestid only for the same request.
The content goes base64-encoded with ``Content-Transfer-Encoding: base64``, as Intuit's SDKs send it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.qbo.exchange import Answer, Call
from connectors.qbo.faults import KINDS, Fault, fault_from_item
from connectors.qbo.requestid import request_id
from connectors.qbo.wire import dumps
from connectors.qbo.writes import WriteRequest, WriteResult

if TYPE_CHECKING:
    from connectors.qbo.client import QboClient

__all__ = ["MAX_UPLOAD_BYTES", "Upload", "multipart", "upload_file"]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file to attach to one QBO record (usually a transaction)."""

    entity: str
    entity_id: str
    filename: str
    content: bytes
    content_type: str = "application/pdf"
    flow: str = ""
    source_key: str = ""
    include_on_send: bool = False
    note: str | None = None

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "AttachableRef": [{"EntityRef": {"type": self.entity, "value": self.entity_id},
                               "IncludeOnSend": self.include_on_send}],
            "FileName": self.filename, "ContentType": self.content_type}
        if self.note:
            meta["Note"] = self.note
        return meta


def multipart(metadata: Mapping[str, Any], item: Upload, boundary: str) -> bytes:
    safe_name = item.filename.replace('"', "'").replace("\r", " ").replace("\n", " ")
    parts = [
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file_metadata_01\"\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n\r\n".encode() + dumps(metadata) + b"\r\n",
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file_content_01\"; filename=\"{safe_name}\"\r\n"
        f"Content-Type: {item.content_type}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
        + base64.b64encode(item.content) + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts)


def upload_file(client: QboClient, item: Upload) -> WriteResult:
    """Upload and link one file; retried with the same requestid when the answer is lost."""
    metadata = item.metadata()
    req = WriteRequest("Attachable", "create", metadata, flow=item.flow, source_key=item.source_key)
    if len(item.content) > MAX_UPLOAD_BYTES:
        return WriteResult(req, "failed", fault=Fault(KINDS["validation"], detail="the file is over QBO's 100 MB"))
    digest = hashlib.sha256(item.content).hexdigest()
    rid = request_id(client.profile, flow=item.flow, source_key=item.source_key, entity="Attachable",
                     operation="upload", payload={**metadata, "sha256": digest})
    boundary = f"passerelle-{rid}"
    call = Call("POST", "upload", {"requestid": rid}, multipart(metadata, item, boundary),
                f"multipart/form-data; boundary={boundary}")
    policy = client.settings.retry
    answer = Answer()
    for attempt in range(policy.max_attempts):
        answer = client.attempt(call)
        if answer.ok or answer.definite:
            break
        client.backoff(attempt, answer)
    if not answer.ok:
        fault = answer.fault if answer.definite else Fault(KINDS["uncertain"], detail="the upload got no answer")
        return WriteResult(req, "failed" if answer.definite else "uncertain", rid,
                           fault=fault and fault.about("Attachable", "upload"), attempts=attempt + 1)
    first = ((answer.data or {}).get("AttachableResponse") or [{}])[0]
    if isinstance(first.get("Fault"), Mapping):
        return WriteResult(req, "failed", rid, fault=fault_from_item(first["Fault"]).about("Attachable", "upload"),
                           attempts=attempt + 1)
    return WriteResult(req, "done", rid, dict(first.get("Attachable") or {}), attempts=attempt + 1)
