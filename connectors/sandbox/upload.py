"""``POST /upload``: multipart parts ``file_metadata_<n>`` (Attachable JSON) and ``file_content_<n>``.

The parser is lenient on purpose: third-party clients send LF-only line breaks and base64 content
with ``Content-Transfer-Encoding: base64``, both of which QBO accepts. A raw file is kept byte for byte,
trailing CR and LF included.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from connectors.sandbox.errors import QboError

__all__ = ["ALLOWED_TYPES", "MAX_UPLOAD_BYTES", "Part", "Upload", "pair_uploads", "parse_multipart"]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
ALLOWED_TYPES = frozenset({
    "application/postscript", "text/csv", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "image/gif", "image/jpeg",
    "image/jpg", "application/vnd.oasis.opendocument.spreadsheet", "application/pdf", "image/png",
    "text/rtf", "application/rtf", "image/tiff", "text/plain", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/xml", "application/xml",
})


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class Upload:
    """One file and the Attachable metadata sent with it (raw JSON bytes, or None)."""

    index: str
    metadata: bytes | None
    filename: str | None
    content_type: str | None
    data: bytes


def _boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if match is None:
        raise QboError("2010", "multipart/form-data body without a boundary", "Content-Type")
    return match.group(1).encode("latin-1")


def _part(raw: bytes, newline: bytes) -> Part | None:
    """One body part: ``raw`` runs from just after its delimiter to just before the next delimiter's newline."""
    _padding, _, raw = raw.partition(newline)  # the rest of the delimiter line (transport padding)
    head, sep, data = raw.partition(newline + newline)
    if not sep and raw.startswith(newline):  # a part without headers
        head, sep, data = b"", newline, raw[len(newline):]
    if not sep:
        return None
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    name = re.search(r'name="([^"]*)"', disposition)
    filename = re.search(r'filename="([^"]*)"', disposition)
    if headers.get("content-transfer-encoding", "").lower() == "base64":
        try:
            data = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise QboError("2010", "file content is not valid base64", "file_content") from None
    content_type = headers.get("content-type")
    return Part(name.group(1) if name else "", filename.group(1) if filename else None,
                content_type.split(";")[0].strip() if content_type else None, data)


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body, each part's content byte for byte.

    As RFC 2046 says, the line break before a delimiter belongs to the delimiter, so exactly one is removed
    from the end of each part and any CR or LF the file itself ends with is kept. The line-break style (CRLF,
    or LF from lenient clients) is the one that ends the first delimiter line.
    """
    if len(body) > MAX_UPLOAD_BYTES:
        raise QboError("2050", "The upload is larger than 100 MB", "file_content")
    delimiter = b"--" + _boundary(content_type)
    first = body.find(delimiter)
    if first < 0:
        return []
    rest = body[first + len(delimiter):]
    line_end = rest.find(b"\n")
    newline = b"\r\n" if line_end > 0 and rest[line_end - 1:line_end] == b"\r" else b"\n"
    parts = []
    for chunk in rest.split(newline + delimiter):
        if chunk.startswith(b"--"):
            break
        part = _part(chunk, newline)
        if part is not None:
            parts.append(part)
    return parts


def pair_uploads(parts: list[Part]) -> list[Upload]:
    """Match ``file_content_<n>`` parts with their ``file_metadata_<n>``."""
    metadata = {p.name.removeprefix("file_metadata_"): p.data for p in parts if p.name.startswith("file_metadata_")}
    uploads = [Upload(p.name.removeprefix("file_content_"), metadata.get(p.name.removeprefix("file_content_")),
                      p.filename, p.content_type, p.data)
               for p in parts if p.name.startswith("file_content_")]
    if not uploads:
        raise QboError("2020", "Required parameter file_content_01 is missing in the request", "file_content")
    return uploads
