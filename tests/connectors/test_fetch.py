"""Attachment URLs come from product data: only allowed hosts, never internal addresses unless a pack
says so, redirects checked again, size and time bounded, every refusal an E905 error (never a traceback)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from connectors.fetch import FileFetcher, HostPolicy
from engine.errors import PasserelleError
from engine.pipeline import run_pipeline
from tests.bounded import run_bounded
from tests.fakes.server import serve_app

PUBLIC = "93.184.216.34"  # a global address, never contacted: hosts are served by in-memory transports


def _resolver(table: dict[str, list[str]]) -> object:
    return lambda host, port: table.get(host, [PUBLIC])


def _refusal(fetcher: FileFetcher, url: str) -> str:
    with pytest.raises(PasserelleError) as caught:
        fetcher.fetch(url)
    (error,) = caught.value.errors
    assert error.code == "E905"
    return error.message


class Recorder(httpx.MockTransport):
    """An in-memory host that records what it was asked."""

    def __init__(self, handler: object) -> None:
        self.seen: list[str] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.seen.append(str(request.url))
            return handler(request)  # type: ignore[operator, no-any-return]

        super().__init__(record)


def _fetcher(tmp_path: Path, allowed: tuple[str, ...] = (), private: tuple[str, ...] = (),
             resolve: dict[str, list[str]] | None = None, **kwargs: object) -> FileFetcher:
    return FileFetcher(tmp_path, policy=HostPolicy.of(allowed, private), resolver=_resolver(resolve or {}),
                       **kwargs)  # type: ignore[arg-type]


def test_a_host_the_pack_does_not_allow_is_refused_before_any_request(tmp_path: Path) -> None:
    files = Recorder(lambda request: httpx.Response(200, content=b"%PDF"))
    fetcher = _fetcher(tmp_path, allowed=("files.example.com",))
    fetcher.transports["evil.example.net"] = files
    message = _refusal(fetcher, "https://evil.example.net/receipt.pdf?X-Amz-Signature=secret")
    assert "attachment host 'evil.example.net' is not allowed" in message and "secret" not in message
    assert files.seen == []


@pytest.mark.parametrize("host", ["a.example.com", "deep.a.example.com"])
def test_a_wildcard_allows_subdomains(tmp_path: Path, host: str) -> None:
    fetcher = _fetcher(tmp_path, allowed=("*.example.com",))
    fetcher.transports[host] = httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))
    assert fetcher.fetch(f"https://{host}/r.pdf") == b"ok"


@pytest.mark.parametrize("host", ["example.com", "evilexample.com", "example.com.evil.net"])
def test_a_wildcard_allows_nothing_else(tmp_path: Path, host: str) -> None:
    assert "is not allowed" in _refusal(_fetcher(tmp_path, allowed=("*.example.com",)), f"https://{host}/r.pdf")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"])
def test_an_allowed_host_that_resolves_to_an_internal_address_is_refused(tmp_path: Path, address: str) -> None:
    fetcher = _fetcher(tmp_path, allowed=("files.example.com",), resolve={"files.example.com": [PUBLIC, address]})
    message = _refusal(fetcher, "https://files.example.com/r.pdf")
    assert "resolves to a non-public address" in message and address in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/r.pdf", "http://[::1]:9/r.pdf", "http://169.254.169.254/latest"])
def test_an_internal_address_allowed_by_name_is_still_refused(tmp_path: Path, url: str) -> None:
    host = httpx.URL(url).host
    fetcher = FileFetcher(tmp_path, policy=HostPolicy.of(allowed=(host,)))  # the real resolver
    assert "non-public address" in _refusal(fetcher, url)


@pytest.fixture
def loopback_server() -> Iterator[str]:
    async def receipt(request: object) -> Response:
        return Response(b"%PDF-1.4 receipt", media_type="application/pdf")

    with serve_app(Starlette(routes=[Route("/r.pdf", receipt)])) as base:
        yield base


def test_loopback_is_reached_only_when_the_pack_says_so(tmp_path: Path, loopback_server: str) -> None:
    url = f"{loopback_server}/r.pdf"
    assert "is not allowed" in _refusal(FileFetcher(tmp_path), url)
    assert "non-public" in _refusal(FileFetcher(tmp_path, policy=HostPolicy.of(allowed=("127.0.0.1",))), url)
    assert FileFetcher(tmp_path, policy=HostPolicy.of(private=("127.0.0.1",))).fetch(url) == b"%PDF-1.4 receipt"


@pytest.mark.parametrize(("location", "fragment"), [
    ("http://169.254.169.254/latest/meta-data/", "is not allowed"),
    ("https://internal.example.com/admin", "resolves to a non-public address"),
])
def test_every_redirect_is_checked_again(tmp_path: Path, location: str, fragment: str) -> None:
    files = Recorder(lambda request: httpx.Response(302, headers={"location": location}))
    fetcher = _fetcher(tmp_path, allowed=("files.example.com", "internal.example.com"),
                       resolve={"files.example.com": [PUBLIC], "internal.example.com": ["10.0.0.8"]})
    fetcher.transports["files.example.com"] = files
    assert fragment in _refusal(fetcher, "https://files.example.com/r.pdf")
    assert files.seen == ["https://files.example.com/r.pdf"]


def test_a_redirect_loop_ends(tmp_path: Path) -> None:
    fetcher = _fetcher(tmp_path, allowed=("files.example.com",))
    fetcher.transports["files.example.com"] = httpx.MockTransport(
        lambda request: httpx.Response(302, headers={"location": "/again"}))
    assert "more than 5 redirects" in _refusal(fetcher, "https://files.example.com/r.pdf")


def _endless(chunk: bytes, pause: float = 0.0) -> Iterator[bytes]:
    while True:
        if pause:
            time.sleep(pause)
        yield chunk


def _download(max_bytes: int, deadline: float, pause: float, length: str | None) -> str:
    """An endless body (optionally slow, optionally with a false Content-Length) from an allowed host."""
    headers = {"content-length": length} if length else {}
    fetcher = FileFetcher(Path("."), policy=HostPolicy.of(("files.example.com",)), max_bytes=max_bytes,
                          deadline=deadline, resolver=lambda host, port: [PUBLIC])
    fetcher.transports["files.example.com"] = httpx.MockTransport(
        lambda request: httpx.Response(200, headers=headers, content=_endless(b"x" * 65536, pause)))
    try:
        fetcher.fetch("https://files.example.com/r.pdf")
    except PasserelleError as exc:
        return exc.errors[0].message
    return "downloaded"


def test_an_endless_body_is_cut_at_the_size_limit() -> None:
    assert run_bounded(_download, 10_000_000, 600.0, 0.0, None).endswith("is over the 10000000-byte limit")


def test_a_declared_size_over_the_limit_is_refused_before_reading() -> None:
    assert run_bounded(_download, 1000, 600.0, 0.0, "5000000000").endswith(
        "is 5000000000 bytes, over the 1000-byte limit")


def test_a_dripping_server_is_cut_at_the_deadline() -> None:
    assert run_bounded(_download, 10**12, 0.5, 0.05, None).endswith("took more than 0.5 s to download")


def test_paths_stay_inside_the_folder_and_name_regular_files(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "secret.txt").write_text("do not print me")
    fetcher = FileFetcher(tmp_path / "inside")
    for name in ("../secret.txt", "/etc/passwd"):
        message = _refusal(fetcher, name)
        assert "outside the pack's folder" in message and "do not print me" not in message
    (tmp_path / "inside" / "dir").mkdir()
    assert "not a regular file" in _refusal(fetcher, "dir")


def test_allowed_and_private_hosts_come_from_the_pack_and_the_profile(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "customers").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "passerelle: 1\nkind: pack\npack: {name: hosts, version: 1.0.0}\n"
        "allowed_hosts: [receipts.example.com, '*.storage.example.net']\nprivate_hosts: [files.intranet]\n"
        "connections:\n  qbo: {connector: qbo}\n", encoding="utf-8")
    (pack / "customers" / "acme.yaml").write_text(
        "passerelle: 1\nkind: profile\nprofile: {name: acme}\npack: hosts\n"
        "allowed_hosts: [cdn.acme.example]\nprivate_hosts: ['10.0.0.7']\n", encoding="utf-8")
    resolved = run_pipeline(pack / "customers" / "acme.yaml").resolved
    assert resolved.allowed_hosts == ("receipts.example.com", "*.storage.example.net", "cdn.acme.example")
    assert resolved.private_hosts == ("files.intranet", "10.0.0.7")


# -- DNS rebinding: the connection goes to the address that was checked ----------------------------------

class Rebinding:
    """A resolver answering a public address first and an internal one afterwards (DNS rebinding)."""

    def __init__(self, first: list[str], later: list[str]) -> None:
        self.first, self.later, self.calls = first, later, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.first if self.calls == 1 else self.later


def test_the_connection_goes_to_the_checked_address_with_the_host_name_in_host_and_sni(tmp_path: Path) -> None:
    seen: list[tuple[str, str, object]] = []

    def network(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers["host"], request.extensions.get("sni_hostname")))
        return httpx.Response(200, content=b"%PDF")

    resolver = Rebinding([PUBLIC], ["127.0.0.1"])
    fetcher = FileFetcher(tmp_path, policy=HostPolicy.of(("files.example.com",)), resolver=resolver,
                          network=httpx.MockTransport(network))
    assert fetcher.fetch("https://files.example.com/r.pdf?sig=1") == b"%PDF"
    assert seen == [(PUBLIC, "files.example.com", "files.example.com")] and resolver.calls == 1


def test_each_checked_address_is_tried_in_turn_and_no_other(tmp_path: Path) -> None:
    tried: list[str] = []

    def network(request: httpx.Request) -> httpx.Response:
        tried.append(request.url.host)
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200, content=b"ok")

    fetcher = FileFetcher(tmp_path, policy=HostPolicy.of(("files.example.com",)),
                          resolver=Rebinding([PUBLIC, "2606:2800:220:1::1"], ["10.0.0.1"]),
                          network=httpx.MockTransport(network))
    assert fetcher.fetch("https://files.example.com:8443/r.pdf") == b"ok"
    assert tried == [PUBLIC, "2606:2800:220:1::1"]
    failing = FileFetcher(tmp_path, policy=HostPolicy.of(("files.example.com",)), resolver=Rebinding([PUBLIC], []),
                          network=httpx.MockTransport(network))
    assert "cannot download attachment files.example.com/r.pdf: ConnectError" in _refusal(
        failing, "https://files.example.com/r.pdf")


@pytest.fixture
def host_echo() -> Iterator[str]:
    async def echo(request: object) -> Response:
        return Response(request.headers["host"].encode())  # type: ignore[attr-defined]

    with serve_app(Starlette(routes=[Route("/host", echo)])) as base:
        yield base


def test_over_real_sockets_the_pinned_address_is_reached_and_the_name_is_sent(
        tmp_path: Path, host_echo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real transport connects to the checked address (loopback, accepted here for the test) even
    though the name now resolves to an address that would be refused."""
    import connectors.fetch

    monkeypatch.setattr(connectors.fetch, "_public", lambda address: address == "127.0.0.1")
    port = httpx.URL(host_echo).port
    resolver = Rebinding(["127.0.0.1"], ["10.255.255.1"])
    fetcher = FileFetcher(tmp_path, policy=HostPolicy.of(("files.example.test",)), resolver=resolver)
    assert fetcher.fetch(f"http://files.example.test:{port}/host") == f"files.example.test:{port}".encode()
    assert resolver.calls == 1


# -- files on a connection's own host: same bounds, credentials never leave the host --------------------

def _product(handler: object, **kwargs: object) -> object:
    from connectors.http import HttpProduct
    from engine.errors import Loc
    from engine.model import Connection

    options = {"connector": "http", "base_url": "https://api.example.test",
               "auth": {"type": "bearer", "token": {"secret": "api_token"}},
               "resources": {"items": {"path": "/items", "records": "data"}}}
    return HttpProduct(Connection("product", "http", options, Loc("pack.yaml", 3, 3)),
                       secrets={"api_token": "API_TOKEN"}, environ={"API_TOKEN": "s3cr3t"},
                       transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
                       **kwargs)  # type: ignore[arg-type]


def _owned_download(max_bytes: int, deadline: float, pause: float, length: str | None) -> str:
    headers = {"content-length": length} if length else {}
    product = _product(lambda request: httpx.Response(200, headers=headers, content=_endless(b"x" * 65536, pause)))
    fetcher = FileFetcher(Path("."), sources={"product": product}, max_bytes=max_bytes, deadline=deadline)
    try:
        fetcher.fetch("https://api.example.test/files/r.pdf")
    except PasserelleError as exc:
        return exc.errors[0].message
    return "downloaded"


def test_a_file_on_the_connection_host_is_cut_at_the_size_limit() -> None:
    assert run_bounded(_owned_download, 10_000_000, 600.0, 0.0, None).endswith("is over the 10000000-byte limit")
    assert run_bounded(_owned_download, 1000, 600.0, 0.0, "5000000000").endswith(
        "is 5000000000 bytes, over the 1000-byte limit")


def test_a_file_on_the_connection_host_is_cut_at_the_deadline() -> None:
    assert run_bounded(_owned_download, 10**12, 0.5, 0.05, None).endswith("took more than 0.5 s to download")


def test_a_file_on_the_connection_host_is_read_with_its_credentials(tmp_path: Path) -> None:
    seen: list[str | None] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, content=b"%PDF receipt")

    fetcher = FileFetcher(tmp_path, sources={"product": _product(api)})
    assert fetcher.fetch("https://api.example.test/files/r.pdf") == b"%PDF receipt"
    assert seen == ["Bearer s3cr3t"]


def test_a_redirect_off_the_connection_host_is_checked_and_carries_no_credentials(tmp_path: Path) -> None:
    api = _product(lambda request: httpx.Response(302, headers={"location": "https://bucket.example.com/r?sig=x"}))
    assert "attachment host 'bucket.example.com' is not allowed" in _refusal(
        FileFetcher(tmp_path, sources={"product": api}), "https://api.example.test/files/r.pdf")
    seen: list[tuple[str, str | None]] = []

    def bucket(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        return httpx.Response(200, content=b"%PDF from the bucket")

    fetcher = FileFetcher(tmp_path, sources={"product": api}, policy=HostPolicy.of(("bucket.example.com",)),
                          resolver=lambda host, port: [PUBLIC], network=httpx.MockTransport(bucket))
    assert fetcher.fetch("https://api.example.test/files/r.pdf") == b"%PDF from the bucket"
    assert seen == [(f"https://{PUBLIC}/r?sig=x", None)]
