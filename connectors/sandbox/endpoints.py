"""Handlers for the company API: entities, query, batch, CDC, preferences, company info, PDF, upload.

Each is a plain function from :class:`ApiRequest` to :class:`ApiResponse`; the gateway wraps them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from connectors.sandbox.catalogue import ENTITIES
from connectors.sandbox.errors import QboError
from connectors.sandbox.gateway import ApiRequest, ApiResponse, Endpoint
from connectors.sandbox.jsonio import loads
from connectors.sandbox.operations import Operation
from connectors.sandbox.pdf import render_pdf
from connectors.sandbox.upload import ALLOWED_TYPES, pair_uploads, parse_multipart

__all__ = ["ENDPOINTS", "entity_of", "file_signature"]

_BY_PATH: Mapping[str, str] = {spec.path: name for name, spec in ENTITIES.items()}
_SINGLETONS = frozenset({"Preferences", "CompanyInfo"})
PDF_ENTITIES = frozenset({"Invoice", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt"})
DOWNLOAD_TTL = timedelta(minutes=15)


def entity_of(path: str) -> str:
    entity = _BY_PATH.get(path.lower())
    if entity is None:
        raise QboError("500", f"Unsupported entity path: {path}", "entity", status=404)
    return entity


def _operation(query: Mapping[str, str]) -> Operation | None:
    operation = query.get("operation", "").lower()
    includes = {part.strip().lower() for part in query.get("include", "").split(",")}
    if operation == "delete":
        return "delete"
    if operation == "void":
        return "void"
    if operation == "update" and "void" in includes:
        return "void-include"
    if operation in ("", "update", "create"):
        return None
    raise QboError("500", f"Operation {operation} is not supported.", "Operation")


def _allow_duplicates(query: Mapping[str, str]) -> bool:
    return "allowduplicatedocnum" in query.get("include", "").lower()


def post_entity(request: ApiRequest) -> ApiResponse:
    entity = entity_of(request.path_params["entity"])
    if entity in _SINGLETONS:
        return post_singleton(request)
    body = loads(request.body or b"{}")
    if not isinstance(body, dict):
        raise QboError("2010", f"The request body must be a {entity} object")
    result = request.sandbox.write(request.realm_id, entity, body, _operation(request.query),
                                   allow_duplicate_docnum=_allow_duplicates(request.query))
    return ApiResponse({entity: result})


def get_entity(request: ApiRequest) -> ApiResponse:
    entity = entity_of(request.path_params["entity"])
    entity_id = request.path_params["entity_id"]
    if entity == "CompanyInfo" and entity_id == request.realm_id:
        entity_id = "1"
    return ApiResponse({entity: request.sandbox.read(request.realm_id, entity, entity_id)})


def get_preferences(request: ApiRequest) -> ApiResponse:
    return ApiResponse({"Preferences": request.sandbox.read(request.realm_id, "Preferences", "1")})


def post_singleton(request: ApiRequest) -> ApiResponse:
    entity = entity_of(request.path_params.get("entity", "preferences"))
    body = loads(request.body or b"{}")
    if not isinstance(body, dict):
        raise QboError("2010", f"The request body must be a {entity} object")
    if entity == "CompanyInfo":
        for name in ("CompanyName", "CompanyAddr"):
            if not body.get(name):
                raise QboError("2020", f"Required parameter {name} is missing in the request", name)
    body = {**body, "Id": "1"}
    return ApiResponse({entity: request.sandbox.write(request.realm_id, entity, body, "update")})


def query(request: ApiRequest) -> ApiResponse:
    text = request.query.get("query")
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if not any(kind in content_type for kind in ("application/text", "text/plain")):
            raise QboError("2010", "POST /query needs Content-Type: application/text", "Content-Type")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise QboError("4000", "QueryParserError: the query is not UTF-8 text") from None
    return ApiResponse({"QueryResponse": request.sandbox.query(request.realm_id, text or "")})


def batch(request: ApiRequest) -> ApiResponse:
    return ApiResponse(request.sandbox.batch(request.realm_id, loads(request.body or b"{}"),
                                             request.query.get("requestid"),
                                             allow_duplicate_docnum=_allow_duplicates(request.query)))


def cdc(request: ApiRequest) -> ApiResponse:
    return ApiResponse(request.sandbox.cdc(request.realm_id, request.query.get("entities", ""),
                                           request.query.get("changedSince", "")))


def pdf(request: ApiRequest) -> ApiResponse:
    entity = entity_of(request.path_params["entity"])
    if entity not in PDF_ENTITIES:
        raise QboError("500", f"Operation pdf is not supported for {entity}.", "Operation")
    row = request.sandbox.read(request.realm_id, entity, request.path_params["entity_id"])
    company = request.sandbox.read(request.realm_id, "CompanyInfo", "1").get("CompanyName", "")
    return ApiResponse(render_pdf(entity, row, str(company)), media_type="application/pdf")


def send(request: ApiRequest) -> ApiResponse:
    entity = entity_of(request.path_params["entity"])
    if entity not in PDF_ENTITIES:
        raise QboError("500", f"Operation send is not supported for {entity}.", "Operation")
    current = request.sandbox.read(request.realm_id, entity, request.path_params["entity_id"])
    change: dict[str, Any] = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                              "EmailStatus": "EmailSent"}
    if request.query.get("sendTo"):
        change["BillEmail"] = {"Address": request.query["sendTo"]}
    elif not (current.get("BillEmail") or {}).get("Address"):
        raise QboError("6000", "Business Validation Error: no e-mail address to send to", "BillEmail")
    return ApiResponse({entity: request.sandbox.write(request.realm_id, entity, change, "update")})


def file_signature(secret: bytes, realm_id: str, attachable_id: str, expires: int) -> str:
    return hmac.new(secret, f"{realm_id}:{attachable_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def _download_url(request: ApiRequest, attachable_id: str) -> str:
    expires = int((request.sandbox.now() + DOWNLOAD_TTL).timestamp())
    secret: bytes = request.sandbox.file_secret
    query = urlencode({"expires": expires, "sig": file_signature(secret, request.realm_id, attachable_id, expires)})
    return f"{request.base_url.rstrip('/')}/sandbox/files/{request.realm_id}/{attachable_id}?{query}"


def upload(request: ApiRequest) -> ApiResponse:
    parts = parse_multipart(request.body, request.headers.get("content-type", ""))
    answers: list[dict[str, Any]] = []
    for item in pair_uploads(parts):
        try:
            metadata = json.loads(item.metadata) if item.metadata else {}
            content_type = str(metadata.get("ContentType") or item.content_type or "application/octet-stream")
            if content_type.lower() not in ALLOWED_TYPES:
                raise QboError("2170", f"Invalid Enumeration : unsupported file type {content_type}",
                               "ContentType")
            metadata.update({"FileName": metadata.get("FileName") or item.filename or f"file{item.index}",
                             "ContentType": content_type})
            created = request.sandbox.attach(request.realm_id, metadata, item.data)
            created["TempDownloadUri"] = _download_url(request, created["Id"])
            answers.append({"Attachable": created})
        except QboError as error:
            answers.append({"Fault": error.fault()})
        except ValueError:
            answers.append({"Fault": QboError("2010", "file_metadata is not valid JSON").fault()})
    return ApiResponse({"AttachableResponse": answers})


def download(request: ApiRequest) -> ApiResponse:
    attachable_id = request.path_params["entity_id"]
    request.sandbox.read(request.realm_id, "Attachable", attachable_id)
    if attachable_id not in request.sandbox.realm(request.realm_id).files:
        raise QboError("610", f"Object Not Found : Attachable {attachable_id} has no file", "Id")
    return ApiResponse(_download_url(request, attachable_id).encode("utf-8"), media_type="text/plain")


def _never_write(request: ApiRequest) -> bool:
    return False


def _named(target: str) -> Any:
    return lambda request: target


ENDPOINTS: Mapping[str, Endpoint] = {
    "query": Endpoint(query, is_write=_never_write, target=_named("query")),
    "batch": Endpoint(batch, target=_named("batch"), is_batch=True),
    "cdc": Endpoint(cdc, is_write=_never_write, target=_named("cdc")),
    "upload": Endpoint(upload, target=_named("upload")),
    "download": Endpoint(download, is_write=_never_write, target=_named("download"), accepts=("",)),
    "preferences.get": Endpoint(get_preferences, target=_named("preferences")),
    "preferences.post": Endpoint(post_singleton, target=_named("preferences")),
    "entity.get": Endpoint(get_entity),
    "entity.post": Endpoint(post_entity),
    "entity.pdf": Endpoint(pdf, is_write=_never_write, accepts=("application/pdf",)),
    "entity.send": Endpoint(send),
}
