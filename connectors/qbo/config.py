"""Where the connector talks to, and how hard it pushes: environments, base URLs, limits and retries.

Base URL resolution, first match wins:

1. the environment variable ``PASSERELLE_QBO_BASE_URL`` (any profile, any environment);
2. the profile's environment: ``production``, ``intuit-sandbox`` or ``passerelle-sandbox``
   (``http://127.0.0.1:8765``, where ``passerelle sandbox`` listens by default).

OAuth endpoints follow the base URL: Intuit's fixed endpoints for an ``*.intuit.com`` host, otherwise the
discovery document at ``{base}/.well-known/openid_configuration`` (what the Passerelle sandbox serves).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "BASE_URL_ENV", "ENVIRONMENTS", "INTUIT_OAUTH", "MIN_MINOR_VERSION", "ClientSettings", "Environment",
    "LimitSpec", "OAuthEndpoints", "RetryPolicy", "is_intuit", "resolve_base_url",
]

BASE_URL_ENV = "PASSERELLE_QBO_BASE_URL"
MIN_MINOR_VERSION = 75


@dataclass(frozen=True)
class OAuthEndpoints:
    authorize: str
    token: str
    revoke: str


INTUIT_OAUTH = OAuthEndpoints(
    authorize="https://appcenter.intuit.com/connect/oauth2",
    token="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    revoke="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
)


@dataclass(frozen=True)
class Environment:
    """A QBO service a profile can target."""

    name: str
    base_url: str
    browserless_connect: bool = False  # the service approves authorisations itself (Passerelle sandbox)


ENVIRONMENTS: Mapping[str, Environment] = {env.name: env for env in (
    Environment("production", "https://quickbooks.api.intuit.com"),
    Environment("intuit-sandbox", "https://sandbox-quickbooks.api.intuit.com"),
    Environment("passerelle-sandbox", "http://127.0.0.1:8765", browserless_connect=True),
)}


def resolve_base_url(environment: str = "passerelle-sandbox", env: Mapping[str, str] | None = None) -> str:
    """The API base URL (without ``/v3``) for an environment, honouring ``PASSERELLE_QBO_BASE_URL``."""
    variables = os.environ if env is None else env
    override = (variables.get(BASE_URL_ENV) or "").strip()
    if override:
        return normalise_base_url(override)
    known = ENVIRONMENTS.get(environment)
    if known is None:
        raise ValueError(f"unknown QBO environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return known.base_url


def normalise_base_url(url: str) -> str:
    """``https://host/v3/`` and ``https://host`` both become ``https://host``."""
    url = url.strip().rstrip("/")
    if url.endswith("/v3"):
        url = url[: -len("/v3")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{BASE_URL_ENV} or the base URL must be an http(s) URL, got {url!r}")
    return url


def is_intuit(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host == "intuit.com" or host.endswith(".intuit.com")


@dataclass(frozen=True)
class LimitSpec:
    """QBO's per-company throttles (reference §9); the limiter keeps under them."""

    per_minute: int = 500
    batches_per_minute: int = 40
    concurrent: int = 10
    window: float = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff with equal jitter on 429, 5xx and transport errors; ``Retry-After`` wins when present.

    ``sleep`` and ``rng`` are injectable so tests back off in microseconds instead of seconds.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 0)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay * 5))
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** attempt))
        jitter: float = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


@dataclass(frozen=True)
class ClientSettings:
    """Everything a :class:`~connectors.qbo.client.QboClient` needs besides its HTTP client and tokens."""

    realm_id: str
    profile: str = "default"
    minorversion: int = MIN_MINOR_VERSION
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: LimitSpec = field(default_factory=LimitSpec)
    page_size: int = 1000
    max_conflict_retries: int = 2

    def __post_init__(self) -> None:
        if self.minorversion < MIN_MINOR_VERSION:
            raise ValueError(f"minorversion must be {MIN_MINOR_VERSION} or later (QBO ignores older ones)")
        if not self.realm_id:
            raise ValueError("a realm id is needed: run `passerelle connect PROFILE` first")
        if not 1 <= self.page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
