"""Fetching attachment files: a product URL (through the product's own HTTP client when it has
one, so its authentication applies), any other http(s) URL, or a path relative to a base folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["FileFetcher"]


class FileFetcher:
    def __init__(self, base_dir: Path, *, transports: Mapping[str, httpx.BaseTransport] | None = None,
                 sources: Mapping[str, Any] | None = None) -> None:
        self.base_dir = base_dir
        self.transports = dict(transports or {})
        self.sources = dict(sources or {})

    def fetch(self, url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            for source in self.sources.values():
                fetch = getattr(source, "fetch_bytes", None)
                if fetch is not None and getattr(source, "owns_url", lambda _u: False)(url):
                    data: bytes = fetch(url)
                    return data
            return self._http(url)
        path = (self.base_dir / url).resolve()
        if not path.is_relative_to(self.base_dir.resolve()):
            raise PasserelleError([RuleError("E905", f"attachment path {url!r} is outside the pack's folder: refused",
                                             Loc(str(self.base_dir)),
                                             hint="attachments are product URLs or files inside the pack")])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise PasserelleError([RuleError("E905", f"cannot read attachment: {exc.strerror}", Loc(str(path)))]) from None

    def _http(self, url: str) -> bytes:
        host = httpx.URL(url).host
        try:
            with httpx.Client(transport=self.transports.get(host), timeout=30.0, follow_redirects=True) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise PasserelleError([RuleError("E905", f"cannot download attachment {httpx.URL(url).path}: {exc}",
                                             None)]) from None
        if response.status_code >= 400:
            raise PasserelleError([RuleError("E905", f"cannot download attachment {httpx.URL(url).path}: HTTP "
                                             f"{response.status_code}", None)])
        return response.content
