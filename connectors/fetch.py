"""Fetching attachment files: a product URL (through the product's own HTTP client when it has
one, so its authentication applies), an http(s) URL on a host the pack allows, or a path relative
to a base folder.

URLs and paths come from product data, so they are untrusted. A URL not on a connection's own host
must name a host in the pack's or profile's ``allowed_hosts`` (``*.example.com`` for subdomains);
it must not resolve to a loopback, private, link-local or otherwise non-global address unless the
host is in ``private_hosts``; every redirect is checked again; the download is cut at ``max_bytes``
and at an overall deadline. A path must stay inside the base folder and name a regular file.
Refusals are ``E905`` errors naming the host and path, never the query (pre-signed URLs carry
credentials there) and never the content.

The host is resolved once per hop and the connection goes to an address that was checked (the
request carries the host name in ``Host`` and in TLS SNI, and the certificate is verified against
it): a DNS server answering a public address to the check and a private one to the connection (DNS
rebinding) gets nowhere. A file on a connection's own host is streamed through that connection's
client (its credentials) under the same size and time bounds; a redirect away from that host is
followed without the credentials and checked like any other URL.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["DEADLINE", "MAX_BYTES", "FileFetcher", "FileSource", "HostPolicy"]

MAX_BYTES = 25_000_000  # one attachment (QBO itself takes up to 100 MB; receipts and PDFs are far smaller)
MAX_REDIRECTS = 5
TIMEOUT = 30.0  # seconds for each connect, read or write
DEADLINE = 120.0  # seconds for a whole download, redirects included (a server dripping bytes is cut)

Resolver = Callable[[str, int], list[str]]


@runtime_checkable
class FileSource(Protocol):
    """A connection that serves files on its own host with its own credentials (a product API)."""

    def owns_url(self, url: str) -> bool: ...

    def open_file(self, url: str) -> AbstractContextManager[httpx.Response]:
        """A streamed GET of ``url``, redirects not followed; the fetcher reads it within its bounds."""
        ...


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _fail(message: str, hint: str | None = None) -> PasserelleError:
    return PasserelleError([RuleError("E905", message, None, hint=hint)])


def _where(url: httpx.URL) -> str:
    """The host and path of a URL, for messages (no query, no credentials)."""
    return f"{url.host}{url.path}"


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts attachment URLs may be downloaded from."""

    allowed: tuple[str, ...] = ()
    private: tuple[str, ...] = ()

    @classmethod
    def of(cls, allowed: Iterable[str] = (), private: Iterable[str] = ()) -> HostPolicy:
        return cls(tuple(h.lower().strip("[]") for h in allowed), tuple(h.lower().strip("[]") for h in private))

    def permits(self, host: str) -> bool:
        host = host.lower()
        if host in self.allowed or host in self.private:
            return True
        return any(p.startswith("*.") and host.endswith(p[1:]) for p in self.allowed)

    def may_be_private(self, host: str) -> bool:
        return host.lower() in self.private


class FileFetcher:
    def __init__(self, base_dir: Path, *, transports: Mapping[str, httpx.BaseTransport] | None = None,
                 sources: Mapping[str, Any] | None = None, policy: HostPolicy | None = None,
                 resolver: Resolver = _resolve, max_bytes: int = MAX_BYTES, deadline: float = DEADLINE,
                 network: httpx.BaseTransport | None = None) -> None:
        """``transports`` (host -> transport) serve hosts in-process, so they are never resolved;
        ``network`` replaces the sockets for every other host (tests record where a request goes)."""
        self.base_dir = base_dir
        self.transports = dict(transports or {})
        self.sources = dict(sources or {})
        self.policy = policy or HostPolicy()
        self.resolver = resolver
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.network = network

    def fetch(self, url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            owner = self._owner(httpx.URL(url))
            return self._http(url) if owner is None else self._owned(owner, url)
        return self._file(url)

    def _file(self, name: str) -> bytes:
        path = (self.base_dir / name).resolve()
        if not path.is_relative_to(self.base_dir.resolve()):
            raise PasserelleError([RuleError("E905", f"attachment path {name[:200]!r} is outside the pack's folder: "
                                             "refused", Loc(str(self.base_dir)),
                                             hint="attachments are product URLs or files inside the pack")])
        try:
            if not path.is_file():
                raise OSError(0, "not a regular file" if path.exists() else "No such file or directory")
            if path.stat().st_size > self.max_bytes:
                raise OSError(0, f"over the {self.max_bytes}-byte limit for an attachment")
            return path.read_bytes()
        except OSError as exc:
            raise PasserelleError([RuleError("E905", f"cannot read attachment: {exc.strerror}", Loc(str(path)))]) \
                from None

    def check(self, url: httpx.URL) -> list[str] | None:
        """Raise E905 unless ``url`` may be downloaded: http(s), an allowed host, a public address.

        Returns the addresses checked, which the connection must use; None when the host is served
        in-process or is a declared private host (any of its addresses will do)."""
        if url.scheme not in ("http", "https") or not url.host:
            raise _fail(f"attachment URL {url.scheme}://{_where(url)} is not http(s): refused")
        host = url.host
        if not self.policy.permits(host):
            raise _fail(f"attachment host {host!r} is not allowed: refused ({_where(url)})",
                        hint=f"add {host!r} to the pack's or the profile's allowed_hosts if it is trusted")
        if host in self.transports or self.policy.may_be_private(host):
            return None
        try:
            addresses = self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            raise _fail(f"cannot resolve attachment host {host!r}: {exc}") from None
        private = [a for a in addresses if not _public(a)]
        if private or not addresses:
            raise _fail(f"attachment host {host!r} resolves to a non-public address ({', '.join(private)}): refused",
                        hint="list the host in private_hosts only if it is yours (an on-premise server, a test)")
        return list(dict.fromkeys(addresses))

    def _owner(self, url: httpx.URL) -> FileSource | None:
        for source in self.sources.values():
            if isinstance(source, FileSource) and source.owns_url(str(url)):
                return source
        return None

    def _owned(self, owner: FileSource, url: str) -> bytes:
        """A file on a connection's own host, through that connection; a redirect elsewhere goes on as
        a public download (checked, without the connection's credentials)."""
        deadline = time.monotonic() + self.deadline
        current = httpx.URL(url)
        try:
            with owner.open_file(url) as response:
                if not (response.is_redirect and "location" in response.headers):
                    if response.status_code >= 400:
                        raise _fail(f"cannot download attachment {_where(current)}: HTTP {response.status_code}")
                    return self._read(response, current, deadline)
                location = current.join(response.headers["location"])
        except httpx.HTTPError as exc:
            raise _fail(f"cannot download attachment {_where(current)}: {type(exc).__name__}") from None
        return self._http(str(location), deadline, hops=1)

    def _http(self, url: str, deadline: float | None = None, hops: int = 0) -> bytes:
        deadline = time.monotonic() + self.deadline if deadline is None else deadline
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1 - hops):
            try:
                with self._open(current, deadline) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = current.join(response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise _fail(f"cannot download attachment {_where(current)}: HTTP {response.status_code}")
                    return self._read(response, current, deadline)
            except httpx.HTTPError as exc:
                raise _fail(f"cannot download attachment {_where(current)}: {type(exc).__name__}") from None
        raise _fail(f"attachment {httpx.URL(url).host}: more than {MAX_REDIRECTS} redirects")

    def _open(self, url: httpx.URL, deadline: float) -> AbstractContextManager[httpx.Response]:
        """The streamed answer for one hop: through the owning connection, in-process, or pinned to a
        checked address."""
        owner = self._owner(url)
        if owner is not None:  # a redirect back to a connection's host: its credentials apply again
            return owner.open_file(str(url))
        addresses = self.check(url)
        timeout = min(TIMEOUT, max(deadline - time.monotonic(), 0.1))
        if addresses is None:
            return _stream(httpx.Client(transport=self.transports.get(url.host) or self.network, timeout=timeout,
                                        follow_redirects=False), url)
        return self._pinned(url, addresses, timeout)

    @contextmanager
    def _pinned(self, url: httpx.URL, addresses: list[str], timeout: float) -> Iterator[httpx.Response]:
        """Connect to the checked addresses in turn (never resolving the name again); the name travels in
        ``Host`` and SNI, so virtual hosting and certificate checks work as with the name."""
        last: httpx.HTTPError | None = None
        for address in addresses:
            target = url.copy_with(host=address.split("%", 1)[0])
            with httpx.Client(transport=self.network, timeout=timeout, follow_redirects=False) as client:
                try:
                    response = client.send(client.build_request("GET", target, headers={"Host": url.netloc.decode()},
                                                                extensions={"sni_hostname": url.host}), stream=True)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    last = exc
                    continue
                try:
                    yield response
                finally:
                    response.close()
                return
        assert last is not None
        raise last

    def _read(self, response: httpx.Response, url: httpx.URL, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _fail(f"attachment {_where(url)} is {declared} bytes, over the {self.max_bytes}-byte limit")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise _fail(f"attachment {_where(url)} is over the {self.max_bytes}-byte limit")
            if time.monotonic() > deadline:
                raise _fail(f"attachment {_where(url)} took more than {self.deadline:g} s to download")
            chunks.append(chunk)
        return b"".join(chunks)


@contextmanager
def _stream(client: httpx.Client, url: httpx.URL) -> Iterator[httpx.Response]:
    with client, client.stream("GET", url) as response:
        yield response
