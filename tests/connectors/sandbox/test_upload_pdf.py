"""Attachments uploaded by multipart and linked to a transaction; an invoice's PDF."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlparse

from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import fault_code, fr_invoice


def _multipart(metadata: dict[str, object], content: bytes, content_type: str, newline: str = "\r\n") -> bytes:
    boundary = "XyZ"
    parts = [f"--{boundary}", 'Content-Disposition: form-data; name="file_metadata_01"',
             "Content-Type: application/json", "", json.dumps(metadata),
             f"--{boundary}", 'Content-Disposition: form-data; name="file_content_01"; filename="receipt.pdf"',
             f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64", "",
             base64.b64encode(content).decode(), f"--{boundary}--", ""]
    return newline.join(parts).encode()


def _upload(client: InProcessClient, body: bytes) -> dict[str, object]:
    response = client.post(f"{client.company()}/upload", content=body,
                           headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_upload_links_an_attachable_and_serves_the_file(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    content = b"%PDF-1.4 fake receipt"
    metadata = {"AttachableRef": [{"EntityRef": {"type": "Invoice", "value": invoice["Id"]}}],
                "FileName": "receipt.pdf", "ContentType": "application/pdf"}
    body = _upload(client, _multipart(metadata, content, "application/pdf", newline="\n"))
    attachable = body["AttachableResponse"][0]["Attachable"]  # type: ignore[index]
    assert attachable["Size"] == len(content) and attachable["FileName"] == "receipt.pdf"
    assert attachable["AttachableRef"][0]["EntityRef"]["value"] == invoice["Id"]
    url = urlparse(attachable["TempDownloadUri"])
    assert client.get(f"{url.path}?{url.query}").content == content
    download = client.get(f"{client.company()}/download/{attachable['Id']}", headers={"Accept": "*/*"})
    assert download.text.startswith("http://sandbox.test/sandbox/files/")
    client.sandbox.clock.advance(16 * 60)  # type: ignore[attr-defined]
    assert client.get(f"{url.path}?{url.query}").status_code == 403


def test_upload_to_an_unknown_transaction_or_type_faults(client: InProcessClient) -> None:
    bad_ref = {"AttachableRef": [{"EntityRef": {"type": "Invoice", "value": "999"}}], "ContentType": "image/png"}
    item = _upload(client, _multipart(bad_ref, b"png", "image/png"))["AttachableResponse"][0]  # type: ignore[index]
    assert item["Fault"]["Error"][0]["code"] == "2500"
    exe = {"ContentType": "application/x-msdownload"}
    item = _upload(client, _multipart(exe, b"MZ", "application/x-msdownload"))["AttachableResponse"][0]  # type: ignore[index]
    assert item["Fault"]["Error"][0]["code"] == "2170"


def test_note_attachable_by_json_and_missing_content(client: InProcessClient) -> None:
    assert client.create("Attachable", {"Note": "Called the client"}).status_code == 200
    assert fault_code(client.create("Attachable", {"Category": "Other"})) == "2020"


def test_invoice_pdf(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice(doc="F-PDF-1")).json()["Invoice"]
    response = client.get(f"{client.company()}/invoice/{invoice['Id']}/pdf", headers={"Accept": "application/pdf"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-1.4") and response.content.rstrip().endswith(b"%%EOF")
    assert b"F-PDF-1" in response.content and b"396.93" in response.content
    xref = int(response.content.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert response.content[xref:xref + 4] == b"xref"
    assert client.get(f"{client.company()}/invoice/424242/pdf", headers={"Accept": "application/pdf"}
                      ).status_code == 400


def test_send_sets_email_status(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice()).json()["Invoice"]
    sent = client.post(f"{client.company()}/invoice/{invoice['Id']}/send", params={"sendTo": "a@b.example"},
                       headers={"Content-Type": "application/octet-stream"}).json()["Invoice"]
    assert sent["EmailStatus"] == "EmailSent" and sent["BillEmail"]["Address"] == "a@b.example"
