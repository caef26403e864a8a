"""One request with retries: transient failures (429, 5xx, network) are retried a few times with jittered backoff.

A write is retried only when the product cannot have carried it out (429, 503, or a connection never made),
unless its method is idempotent (PUT): a POST answered 500 may have created the record, and resending
could create it twice. ``Retry-After`` is honoured up to a cap. The sleep is injectable for tests.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.http.errors import Where, excerpt, fail

__all__ = ["DEFAULT_POLICY", "RetryPolicy", "send"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_NOT_CARRIED_OUT = frozenset({429, 503})  # the product says it did nothing: any method may be resent
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_HINTS: Mapping[int, str] = {
    400: "the API refused the request: check the declared params and the payload",
    401: "the API refused the credentials: check the secret's environment variable (an expired token?)",
    403: "the credentials lack a permission for this path",
    404: "nothing at this path: check base_url, the path template and the settings it uses",
    422: "the API refused the payload: see the body excerpt",
    429: "rate limited even after retries: sync less often or lower the page size",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 30.0


DEFAULT_POLICY = RetryPolicy()


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return float(max(0.0, min(when.timestamp() - time.time(), cap)))


def _backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    ceiling: float = min(policy.base_delay * float(2 ** attempt), policy.max_delay)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _may_retry(method: str, status: int | None, connected: bool) -> bool:
    if status is None:  # network failure
        return method in _IDEMPOTENT or not connected
    if status in _NOT_CARRIED_OUT:
        return True
    return status in _TRANSIENT and method in _IDEMPOTENT


def send(client: httpx.Client, method: str, url: str, where: Where, *, params: Mapping[str, Any] | None = None,
         content: bytes | None = None, headers: Mapping[str, str] | None = None, policy: RetryPolicy = DEFAULT_POLICY,
         sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
         secrets: Iterable[str] = ()) -> httpx.Response:
    """Send until a 2xx answer, retrying what is safe to retry; any other outcome raises a PasserelleError."""
    rng = rng or random.Random()
    # no params at all (not an empty dict, which would erase the query of a followed next link)
    request = client.build_request(method, url, params=dict(params) if params else None, content=content,
                                   headers=headers)
    where = where.at(path=request.url.path)
    label = f"{method} {request.url.path}"
    attempts = max(1, policy.attempts)
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            if last or not _may_retry(method, None, connected):
                raise fail("E901", where, f"{label} failed: cannot reach the API ({type(exc).__name__})",
                           hint="check base_url and the network; the request was tried "
                                f"{attempt + 1} time(s)") from None
            sleep(_backoff(policy, attempt, rng))
            continue
        if response.is_success:
            return response
        if last or not _may_retry(method, response.status_code, True):
            body = excerpt(response.text, secrets)
            tries = f" (after {attempt + 1} attempts)" if attempt else ""
            raise fail("E901", where, f"{label} answered HTTP {response.status_code}{tries}: {body or '(empty body)'}",
                       hint=_HINTS.get(response.status_code)) from None
        delay = _retry_after(response, policy.max_delay)
        sleep(delay if delay is not None else _backoff(policy, attempt, rng))
    raise AssertionError("unreachable")  # the loop always returns or raises on its last attempt
