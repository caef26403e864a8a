"""Uploads are byte-exact over real HTTP: a file's own trailing CR and LF bytes are kept, raw or base64, with
CRLF or LF-only multipart bodies, and with a multipart body built by httpx itself."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from connectors.sandbox import Sandbox, serve
from connectors.sandbox.testing import TEST_TOKEN, test_config
from tests.connectors.sandbox.helpers import FR

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json"}
CONTENTS = [b"a\r\n", b"a\r\n\r\n", b"line\n", b"ends with CR\r", b"\r\n", b"\n\nx\n\n", b"no break", b""]
METADATA = {"AttachableRef": [{"EntityRef": {"type": "Customer", "value": "52"}}], "FileName": "f.txt",
            "ContentType": "text/plain"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    state = Sandbox(test_config(requests_per_minute=10_000))
    with serve(state) as base:
        yield state, base
    state.close()


def _body(content: bytes, newline: bytes, encoded: bool) -> bytes:
    encoding = [b"Content-Transfer-Encoding: base64"] if encoded else []
    data = base64.b64encode(content) if encoded else content
    lines = [b"--XyZ", b'Content-Disposition: form-data; name="file_metadata_01"', b"Content-Type: application/json",
             b"", json.dumps(METADATA).encode(), b"--XyZ",
             b'Content-Disposition: form-data; name="file_content_01"; filename="f.txt"', b"Content-Type: text/plain",
             *encoding, b"", data, b"--XyZ--", b""]
    return newline.join(lines)


def _check_round_trip(state: Sandbox, base: str, answer: httpx.Response, content: bytes) -> None:
    assert answer.status_code == 200, answer.text
    attachable = answer.json()["AttachableResponse"][0]["Attachable"]
    assert attachable["Size"] == len(content)
    assert state.realm(FR).files[attachable["Id"]] == content
    assert httpx.get(attachable["TempDownloadUri"]).content == content
    url = httpx.get(f"{base}/v3/company/{FR}/download/{attachable['Id']}",
                    headers={**HEADERS, "Accept": "*/*"}).text
    assert httpx.get(url).content == content


@pytest.mark.parametrize("content", CONTENTS)
@pytest.mark.parametrize("newline", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "base64"])
def test_upload_keeps_every_byte(served: tuple[Sandbox, str], content: bytes, newline: bytes,
                                 encoded: bool) -> None:
    state, base = served
    answer = httpx.post(f"{base}/v3/company/{FR}/upload", content=_body(content, newline, encoded),
                        headers={**HEADERS, "Content-Type": "multipart/form-data; boundary=XyZ"})
    _check_round_trip(state, base, answer, content)


@pytest.mark.parametrize("content", CONTENTS)
def test_upload_built_by_httpx_keeps_every_byte(served: tuple[Sandbox, str], content: bytes) -> None:
    state, base = served
    files = {"file_metadata_01": (None, json.dumps(METADATA), "application/json"),
             "file_content_01": ("f.txt", content, "text/plain")}
    answer = httpx.post(f"{base}/v3/company/{FR}/upload", files=files, headers=HEADERS)
    _check_round_trip(state, base, answer, content)
