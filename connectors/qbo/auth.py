"""Authentication as an httpx auth *flow*: send with the current access token; on 401, refresh once and resend.

The flow gets its tokens from a :class:`TokenSource`: :class:`StaticToken` for tests and demos, or the
OAuth token manager (:class:`connectors.qbo.oauth.OAuthTokens`), which refreshes ahead of expiry,
rotation-safely and across processes. The token never appears in a log line or an error message.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol

import httpx

__all__ = ["BearerAuth", "StaticToken", "TokenSource"]


class TokenSource(Protocol):
    def access_token(self) -> str:
        """A valid access token (refreshed first if it is about to expire)."""
        ...

    def refresh(self, rejected: str) -> str:
        """A new access token after QBO rejected ``rejected`` (another thread may already have refreshed)."""
        ...


class StaticToken:
    """A fixed bearer token (the sandbox's static tokens); it cannot be refreshed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh(self, rejected: str) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(***)"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer …`` with one refresh-and-resend on 401."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def close(self) -> None:
        """Close the token source's own HTTP client, if it has one."""
        close = getattr(self.source, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"BearerAuth({self.source!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.source.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self.source.refresh(token)
            if fresh != token:
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request
